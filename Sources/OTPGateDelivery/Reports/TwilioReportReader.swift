public import Crypto
import Foundation
public import OTPGateCore

/// Twilio's status callbacks (`StatusCallback`): a form POST signed with `X-Twilio-Signature` = base64 HMAC-SHA1,
/// keyed by the auth token, over the callback URL followed by every parameter's name and value sorted by name.
public struct TwilioReportReader: DeliveryReportReader {
    public let provider = "twilio"
    /// The URL exactly as configured in `StatusCallback`: Twilio signs the URL it called, which a proxy in front of
    /// OTPGate may rewrite, so the configured one is what counts.
    let callbackURL: String
    let authToken: String

    public init(callbackURL: String, authToken: String) {
        self.callbackURL = callbackURL
        self.authToken = authToken
    }

    public func reports(in request: DeliveryReportRequest, now: Timestamp) -> [DeliveryReport]? {
        guard let signature = request.headers["x-twilio-signature"] else { return nil }
        let fields = FormDecoding.decode(request.body)
        guard constantTimeEquals(Array(Self.signature(url: callbackURL, fields: fields, authToken: authToken).utf8), Array(signature.utf8)) else {
            return nil
        }
        let values = Dictionary(fields, uniquingKeysWith: { first, _ in first })
        guard let sid = values["MessageSid"] ?? values["SmsSid"], let status = values["MessageStatus"] ?? values["SmsStatus"] else { return [] }
        switch status {
        case "delivered", "read": return [DeliveryReport(provider: provider, providerMessageID: sid, delivered: true)]
        case "undelivered", "failed", "canceled":
            let code = values["ErrorCode"].flatMap { $0.allSatisfy(\.isNumber) && !$0.isEmpty ? " (\($0))" : nil } ?? ""
            return [DeliveryReport(provider: provider, providerMessageID: sid, delivered: false, error: "twilio: \(status)\(code)")]
        default: return []
        }
    }

    public static func signature(url: String, fields: [(String, String)], authToken: String) -> String {
        var content = url
        // Sorted by name (then value), a repeated pair once, as Twilio's own validators do.
        var seen: Set<String> = []
        for (name, value) in fields.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) where seen.insert(name + "\u{0}" + value).inserted {
            content += name + value
        }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array(content.utf8), using: SymmetricKey(data: Array(authToken.utf8)))
        return Data(mac).base64EncodedString()
    }
}

enum FormDecoding {
    static func decode(_ body: [UInt8]) -> [(String, String)] {
        String(decoding: body, as: UTF8.self).split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
    }
}
