import Foundation

/// A start's `Idempotency-Key`, with what identifies the request it came with.
public struct IdempotencyClaim: Sendable, Equatable {
    public var key: String
    /// A keyed digest of the method, path and body (`PersonalDataCipher.requestDigest`), so the same key with another
    /// request is refused.
    public var requestHash: [UInt8]
    /// How long the key and its first response are kept.
    public var window: Duration

    public init(key: String, requestHash: [UInt8], window: Duration = IdempotencyRecord.defaultWindow) {
        self.key = key
        self.requestHash = requestHash
        self.window = window
    }
}

/// What the store keeps under an idempotency key: the request's hash and the first response, verbatim.
public struct IdempotencyRecord: Sendable, Equatable {
    /// 24 hours, as Stripe and the IETF draft do.
    public static let defaultWindow: Duration = .seconds(86_400)

    public var tenantID: String
    public var key: String
    public var requestHash: [UInt8]
    /// The verification as first answered, without its secrets.
    public var response: Verification
    public var createdAt: Timestamp

    public init(tenantID: String, key: String, requestHash: [UInt8], response: Verification, createdAt: Timestamp) {
        self.tenantID = tenantID
        self.key = key
        self.requestHash = requestHash
        self.response = response
        self.createdAt = createdAt
    }

    /// Whether the record still answers for its key; an older one is replaced by the next start that uses the key.
    public func isLive(at now: Timestamp, window: Duration) -> Bool { createdAt > now - window }
}
