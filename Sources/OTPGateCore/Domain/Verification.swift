public import Foundation

/// The stored lifecycle of a verification. `expired` is written by the sweeper; until then a pending
/// verification past its `expiresAt` is *reported* as expired (see `Verification.displayStatus(at:)`).
public enum VerificationState: String, Sendable {
    case pending, approved, canceled, expired
}

/// One verification: a code sent to one destination, checked at most `maxAttempts` times before `expiresAt`.
/// Only a keyed hash of the current code is kept (`codeHash`).
public struct Verification: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var channel: Channel
    public var destination: String
    public var purpose: String?
    public var locale: String?
    public var reference: String?
    /// The caller's context object as canonical JSON text, bound into the verification token.
    public var context: String?
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

    public init(
        id: String, tenantID: String, channel: Channel, destination: String, purpose: String?, locale: String?,
        reference: String?, context: String?, codeLength: Int, codeHash: Data, state: VerificationState,
        attempts: Int, maxAttempts: Int, sends: Int, maxSends: Int, ttlSeconds: Int, createdAt: Timestamp,
        expiresAt: Timestamp, lastSentAt: Timestamp, resendAvailableAt: Timestamp, updatedAt: Timestamp
    ) {
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
