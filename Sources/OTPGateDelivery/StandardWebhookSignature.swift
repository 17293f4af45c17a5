import Crypto
import Foundation
import OTPGateCore

/// Signs (and checks) a webhook as the Standard Webhooks specification says: `webhook-id`, `webhook-timestamp` and
/// `webhook-signature: v1,<base64 HMAC-SHA256 over "id.timestamp.body">`, keyed by a `whsec_<base64>` secret.
/// Used for the generic SMS webhook and for tenants' event webhooks, so one receiver library checks both.
public struct StandardWebhookSignature: Sendable {
    let key: SymmetricKey

    /// `whsec_` followed by base64 (the key is the decoded bytes), as the specification writes secrets; any other
    /// value is taken as the key's UTF-8 bytes. At least 16 bytes either way.
    public init(secret: String) throws(WebhookSecretError) {
        let bytes: [UInt8]
        if secret.hasPrefix("whsec_") {
            guard let decoded = Data(base64Encoded: String(secret.dropFirst(6))) else { throw WebhookSecretError() }
            bytes = Array(decoded)
        } else {
            bytes = Array(secret.utf8)
        }
        guard bytes.count >= 16 else { throw WebhookSecretError() }
        key = SymmetricKey(data: bytes)
    }

    /// The three headers for `body`, sent as message `id` at `timestamp` (Unix seconds).
    public func headers(id: String, timestamp: Int64, body: [UInt8]) -> [(name: String, value: String)] {
        [
            ("webhook-id", id), ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", "v1," + signature(id: id, timestamp: timestamp, body: body)),
        ]
    }

    public func signature(id: String, timestamp: Int64, body: [UInt8]) -> String {
        let content = Array("\(id).\(timestamp).".utf8) + body
        return Data(HMAC<SHA256>.authenticationCode(for: content, using: key)).base64EncodedString()
    }

    /// Whether any `v1,` signature in the header matches, and the timestamp is within `tolerance` of `now`.
    public func verify(id: String, timestamp: String, signatures: String, body: [UInt8], now: Int64, tolerance: Int64 = 300) -> Bool {
        guard let time = Int64(timestamp), abs(now - time) <= tolerance else { return false }
        let expected = Array(signature(id: id, timestamp: time, body: body).utf8)
        return signatures.split(separator: " ").contains { candidate in
            guard candidate.hasPrefix("v1,") else { return false }
            return constantTimeEquals(Array(candidate.dropFirst(3).utf8), expected)
        }
    }
}

public struct WebhookSecretError: Error, Sendable, CustomStringConvertible {
    public var description: String { "a webhook secret must be whsec_ followed by base64, or at least 16 characters" }
}
