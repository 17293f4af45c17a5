public import Logging
public import OTPGateCore
public import OTPGateObservability

/// The engine's observer in the server: every event counted in the metrics, and the ones an operator must hear about
/// (a prefix held by the conversion guard) logged too. Logs carry the prefix, never a number.
public struct EngineEventLog: EngineObserver {
    public let metrics: ServerMetrics
    public let logger: Logger

    public init(metrics: ServerMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    public func verificationStarted(channel: Channel) { metrics.verificationStarted(channel: channel) }
    public func testVerificationStarted(channel: Channel) { metrics.testVerificationStarted(channel: channel) }
    public func verificationApproved(channel: Channel) { metrics.verificationApproved(channel: channel) }
    public func checkFailed(channel: Channel) { metrics.checkFailed(channel: channel) }
    public func verificationsExpired(channel: Channel, count: Int) { metrics.verificationsExpired(channel: channel, count: count) }
    public func startRefused(reason: String) { metrics.startRefused(reason: reason) }

    public func budgetWarning(tenantID: String, budget: String) {
        metrics.budgetWarning(tenantID: tenantID, budget: budget)
        logger.notice("a send budget passed 80 % of its limit", metadata: ["tenant_id": "\(tenantID)", "budget": "\(budget)"])
    }

    public func abuseHoldMade(_ hold: AbuseHold) {
        metrics.abuseHoldMade(hold)
        logger.warning(
            "suspected SMS pumping: starts to this prefix are held",
            metadata: [
                "tenant_id": "\(hold.tenantID)", "prefix": "\(hold.prefix)", "sends": "\(hold.sends)", "approved": "\(hold.approved)",
                "held_until": "\(hold.until.iso8601)",
            ])
    }
}
