public import Foundation

/// The stored lifecycle of a verification. `expired` is written by the sweeper; until then a pending
/// verification past its `expiresAt` is *reported* as expired (see `Verification.displayStatus(at:)`).
public enum VerificationState: String, Sendable {
    case pending, approved, canceled, expired
}

/// One verification: a code sent to one destination, checked at most `maxAttempts` times before `expiresAt`.
/// Only a keyed hash of the current code is kept (`codeHash`).
///
/// Personal fields (`destination`, `reference`, `context`) never reach the store in clear: it keeps them sealed in
/// `sealedFields` and looks the destination up by its blind index, `destinationKey` (`PersonalDataCipher`). A
/// verification read from the store has them empty until the engine opens them (`PersonalDataCipher.reveal`).
public struct Verification: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var channel: Channel
    /// The canonical destination (E.164 or the canonical email address); in memory only.
    public var destination: String
    public var purpose: String?
    public var locale: String?
    /// The caller's own label; in memory only.
    public var reference: String?
    /// The caller's context object as canonical JSON text, bound into the verification token; in memory only.
    public var context: String?
    /// The blind index of the canonical destination: what every limit, lockout and window is keyed by in the store.
    public var destinationKey: String
    /// `destination`, `reference` and `context`, sealed with the verification id as associated data: what the store keeps.
    public var sealedFields: Data
    public var codeLength: Int
    public var codeHash: Data
    public var state: VerificationState
    public var attempts: Int
    public var maxAttempts: Int
    public var sends: Int
    public var maxSends: Int
    public var ttlSeconds: Int
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    public var lastSentAt: Timestamp
    public var resendAvailableAt: Timestamp
    public var updatedAt: Timestamp
    /// A second destination the same verification is delivered to (M2P's dual OTP: the mobile and the email on file);
    /// in memory only, sealed with the other personal fields. Limits, locks and windows stay keyed by `destination`.
    public var companion: Destination?
    /// Whether the companion gets a code of its own: then `codeHash` holds both codes' hashes, and a check needs both.
    public var companionHasOwnCode: Bool = false
    /// Where the same code goes when the first message fails for good, or is not reported delivered within
    /// `fallbackAfterSeconds`; in memory only, sealed with the other personal fields.
    public var fallback: Destination?
    public var fallbackAfterSeconds: Int = 0

    public init(
        id: String, tenantID: String, channel: Channel, destination: String, purpose: String?, locale: String?,
        reference: String?, context: String?, codeLength: Int, codeHash: Data, state: VerificationState,
        attempts: Int, maxAttempts: Int, sends: Int, maxSends: Int, ttlSeconds: Int, createdAt: Timestamp,
        expiresAt: Timestamp, lastSentAt: Timestamp, resendAvailableAt: Timestamp, updatedAt: Timestamp, destinationKey: String = "",
        sealedFields: Data = Data()
    ) {
        self.destinationKey = destinationKey
        self.sealedFields = sealedFields
        self.id = id
        self.tenantID = tenantID
        self.channel = channel
        self.destination = destination
        self.purpose = purpose
        self.locale = locale
        self.reference = reference
        self.context = context
        self.codeLength = codeLength
        self.codeHash = codeHash
        self.state = state
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.sends = sends
        self.maxSends = maxSends
        self.ttlSeconds = ttlSeconds
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastSentAt = lastSentAt
        self.resendAvailableAt = resendAvailableAt
        self.updatedAt = updatedAt
    }

    public var attemptsRemaining: Int { max(0, maxAttempts - attempts) }

    public var maskedDestination: String { Destination(unchecked: destination, channel: channel).masked }

    /// The status a client sees: the stored state, refined by time and by the attempt count.
    public func displayStatus(at now: Timestamp) -> String {
        switch state {
        case .pending:
            if now >= expiresAt { return "expired" }
            if attempts >= maxAttempts { return "max_attempts_reached" }
            return "pending"
        case .approved: return "approved"
        case .canceled: return "canceled"
        case .expired: return "expired"
        }
    }

    /// A copy safe to persist outside the verification row (idempotent replays): the code hash removed.
    public var withoutSecrets: Verification {
        var copy = self
        copy.codeHash = Data()
        return copy
    }
}
