/// The transactional outbox as the delivery worker sees it: claim due messages under a lease, record outcomes.
public protocol OutboxStore: Sendable {
    /// Claims up to `limit` due messages for `leaseUntil`; a claim whose lease ran out can be claimed again.
    func claimOutbox(limit: Int, now: Timestamp, leaseUntil: Timestamp) async throws -> [OutboxMessage]
    /// Records the outcomes of delivery attempts of claimed messages; an outcome whose claim was lost
    /// (its lease ran out and another worker claimed the message again) is ignored.
    func finishOutbox(_ results: [DeliveryResult], now: Timestamp) async throws
    /// Which of these claims (message id and the attempt it was claimed for) still hold: the message is still being
    /// sent under that attempt, not superseded, canceled, expired or claimed again. Checked just before sending a
    /// message that waited in memory, so a code made obsolete meanwhile is never sent.
    func claimsHeld(_ claims: [OutboxClaim]) async throws -> Set<String>
    /// When the earliest message not yet claimed (or whose claim runs out) becomes due, if any: the worker sleeps
    /// until then.
    func nextOutboxDue() async throws -> Timestamp?
    /// Messages not yet finished (waiting, retrying or being sent) and when the oldest was written: the backlog a
    /// provider outage builds, for the metrics.
    func outboxBacklog() async throws -> (depth: Int, oldest: Timestamp?)
}

/// A claimed message: its id and the attempt number its claim returned (the fence of every later write).
public struct OutboxClaim: Sendable, Hashable {
    public var messageID: String
    public var attempt: Int

    public init(messageID: String, attempt: Int) {
        self.messageID = messageID
        self.attempt = attempt
    }
}

public enum DeliveryOutcome: Sendable, Equatable {
    case sent(providerMessageID: String?)
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
    /// The sender that made the attempt (`nil` when none did: the message had expired).
    public var provider: String?

    /// A sent message whose provider will report delivery: its fallback (if any) waits for the report.
    public var awaitsReport: Bool = false
    /// Whether a fallback may wait on the message (`false` only when its payload says none does): its outcome then
    /// touches no other row.
    public var hasFallback: Bool = true

    public init(messageID: String, attempt: Int, outcome: DeliveryOutcome, provider: String? = nil, awaitsReport: Bool = false) {
        self.awaitsReport = awaitsReport
        self.messageID = messageID
        self.attempt = attempt
        self.outcome = outcome
        self.provider = provider
    }

    public var isSent: Bool {
        if case .sent = outcome { return true }
        return false
    }
}
