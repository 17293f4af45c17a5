import Foundation

/// The one owner of every fact that decides correctness: attempts, limits, cooldowns, locks, idempotency keys,
/// consumed tokens, the outbox and the shared secrets. Each operation is atomic in the database (a transaction
/// or a conditional statement), never a read-modify-write in process memory, so any number of OTPGate
/// instances can share one store. Decisions come from `VerificationRules`; a store only applies them.
///
/// Refusals are thrown as `VerificationError`; anything else thrown is a storage failure (`StoreError`).
public protocol Store: Sendable {
    /// Applies pending schema migrations; safe to call from several processes at once.
    func migrate() async throws
    /// Succeeds when the database answers.
    func ping() async throws
    /// Releases connections; the store is not used afterwards.
    func close() async

    // MARK: tenants and keys
    func createTenant(_ tenant: Tenant, firstKey: APIKeyRecord) async throws
    func tenants() async throws -> [Tenant]
    func tenant(id: String) async throws -> Tenant?
    func updateTenantPolicy(id: String, overrides: PolicyOverrides) async throws -> Bool
    func createAPIKey(_ key: APIKeyRecord) async throws
    func apiKeys(tenantID: String) async throws -> [APIKeyRecord]
    /// Marks a key revoked; `false` if no such key or already revoked.
    func revokeAPIKey(id: String, at: Timestamp) async throws -> Bool
    /// The tenant and key id for an unrevoked key with this hash.
    func principal(forKeyHash hash: [UInt8]) async throws -> Principal?

    // MARK: shared secrets
    /// Stores `value` under `name` unless one is already there, and returns whichever is stored:
    /// the first instance to start wins and every other adopts its secret.
    func insertSecretIfAbsent(name: String, value: [UInt8], createdAt: Timestamp) async throws -> [UInt8]
    func secrets(prefix: String) async throws -> [(name: String, value: [UInt8])]

    // MARK: verifications
    func startVerification(_ command: StartCommand) async throws -> StartResult
    func checkVerification(_ command: CheckCommand) async throws -> CheckOutcome
    func resendVerification(_ command: ResendCommand) async throws -> Verification
    func cancelVerification(id: String, tenantID: String, now: Timestamp, admission: RequestAdmission?) async throws -> Verification
    func verification(id: String, tenantID: String, admission: RequestAdmission?) async throws -> Verification
    /// Counts one request against a key's per-second allowance and throws `keyRateLimited` past it.
    func admit(_ admission: RequestAdmission) async throws
    func destinationState(tenantID: String, destination: String) async throws -> DestinationState?

    // MARK: tokens
    /// Records the token as used; `false` if it was already.
    func consumeToken(jti: String, tenantID: String, expiresAt: Timestamp, now: Timestamp) async throws -> Bool
    func isTokenConsumed(jti: String) async throws -> Bool

    // MARK: outbox
    /// Claims up to `limit` due messages for `leaseUntil`; a claim whose lease ran out can be claimed again.
    func claimOutbox(limit: Int, now: Timestamp, leaseUntil: Timestamp) async throws -> [OutboxMessage]
    /// Records the outcomes of delivery attempts of claimed messages; an outcome whose claim was lost
    /// (its lease ran out and another worker claimed the message again) is ignored.
    func finishOutbox(_ results: [DeliveryResult], now: Timestamp) async throws
    func outboxMessages(verificationID: String) async throws -> [OutboxMessage]

    // MARK: housekeeping
    /// Expires stale verifications and outbox messages and deletes rows past their retention.
    func sweep(now: Timestamp, retention: Duration) async throws -> SweepReport
}

/// A request counted against its API key's per-second allowance inside the same transaction as its work.
public struct RequestAdmission: Sendable, Equatable {
    public var keyID: String
    public var limitPerSecond: Int
    public var now: Timestamp

    public init(keyID: String, limitPerSecond: Int, now: Timestamp) {
        self.keyID = keyID
        self.limitPerSecond = limitPerSecond
        self.now = now
    }
}

public struct IdempotencyClaim: Sendable, Equatable {
    public var key: String
    /// SHA-256 of the method, path and body, so the same key with another request is refused.
    public var requestHash: [UInt8]
    public var window: Duration

    public init(key: String, requestHash: [UInt8], window: Duration = .seconds(86_400)) {
        self.key = key
        self.requestHash = requestHash
        self.window = window
    }
}

public struct StartCommand: Sendable {
    public var verification: Verification
    public var message: NewOutboxMessage
    public var policy: Policy
    public var admission: RequestAdmission?
    public var idempotency: IdempotencyClaim?

    public init(verification: Verification, message: NewOutboxMessage, policy: Policy, admission: RequestAdmission?, idempotency: IdempotencyClaim?) {
        self.verification = verification
        self.message = message
        self.policy = policy
        self.admission = admission
        self.idempotency = idempotency
    }
}

public enum StartResult: Sendable, Equatable {
    case created(Verification)
    /// The idempotency key was seen with the same request: the first response, nothing sent.
    case replayed(Verification)
}

public struct CheckCommand: Sendable {
    public var id: String
    public var tenantID: String
    /// The keyed hash of the submitted code, compared in constant time with the stored one.
    public var candidateHash: [UInt8]
    public var now: Timestamp
    public var policy: Policy
    public var admission: RequestAdmission?

    public init(id: String, tenantID: String, candidateHash: [UInt8], now: Timestamp, policy: Policy, admission: RequestAdmission?) {
        self.id = id
        self.tenantID = tenantID
        self.candidateHash = candidateHash
        self.now = now
        self.policy = policy
        self.admission = admission
    }
}

public enum CheckOutcome: Sendable, Equatable {
    case approved(Verification)
    /// The attempt was counted; the verification as it stands after it.
    case incorrect(Verification)
}

public struct ResendCommand: Sendable {
    public var id: String
    public var tenantID: String
    public var channel: Channel?
    /// Builds the new code's hash and sealed message for the verification as the store finds it.
    public var codeHash: [UInt8]
    public var message: NewOutboxMessage
    public var now: Timestamp
    public var policy: Policy
    public var admission: RequestAdmission?

    public init(id: String, tenantID: String, channel: Channel?, codeHash: [UInt8], message: NewOutboxMessage, now: Timestamp, policy: Policy, admission: RequestAdmission?) {
        self.id = id
        self.tenantID = tenantID
        self.channel = channel
        self.codeHash = codeHash
        self.message = message
        self.now = now
        self.policy = policy
        self.admission = admission
    }
}

public enum DeliveryOutcome: Sendable, Equatable {
    case sent
    case retry(at: Timestamp, error: String)
    case failed(error: String)
    /// Not sent because the code is no longer useful.
    case expired
}

/// The outcome of one delivery attempt, fenced by the attempt number the claim returned.
public struct DeliveryResult: Sendable, Equatable {
    public var messageID: String
    public var attempt: Int
    public var outcome: DeliveryOutcome

    public init(messageID: String, attempt: Int, outcome: DeliveryOutcome) {
        self.messageID = messageID
        self.attempt = attempt
        self.outcome = outcome
    }
}

public struct SweepReport: Sendable, Equatable {
    public var expiredByChannel: [Channel: Int] = [:]
    public var deletedRows = 0
    public init() {}
}

/// A storage failure, as opposed to a refusal: the database is unreachable, busy or broken.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case unavailable, conflict, corrupt }
    public var kind: Kind
    public var description: String
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
