/// Hooks for counting what the engine does (Prometheus in the server). Never given a code or a destination.
public protocol EngineObserver: Sendable {
    func verificationStarted(channel: Channel)
    /// A start to one of a tenant's test destinations (fixed code, nothing sent): counted apart from real starts.
    func testVerificationStarted(channel: Channel)
    func verificationApproved(channel: Channel)
    func checkFailed(channel: Channel)
    func verificationsExpired(channel: Channel, count: Int)
    /// A start refused by an abuse defence, by its problem code (`suspected_pumping`, `budget_exhausted`).
    func startRefused(reason: String)
    /// The conversion guard held a prefix (this instance's start tripped it).
    func abuseHoldMade(_ hold: AbuseHold)
    /// A send took one of the tenant's budgets (`sms_per_day` …) across 80 % of its limit.
    func budgetWarning(tenantID: String, budget: String)
}

extension EngineObserver {
    public func startRefused(reason: String) {}
    public func testVerificationStarted(channel: Channel) {}
    public func abuseHoldMade(_ hold: AbuseHold) {}
    public func budgetWarning(tenantID: String, budget: String) {}
}

public struct NoEngineObserver: EngineObserver {
    public init() {}
    public func verificationStarted(channel: Channel) {}
    public func verificationApproved(channel: Channel) {}
    public func checkFailed(channel: Channel) {}
    public func verificationsExpired(channel: Channel, count: Int) {}
}
