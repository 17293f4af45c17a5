public import OTPGateCore
public import Prometheus
import Synchronization

/// The Prometheus metrics of one process, served at `/metrics`. Labels carry routes, statuses and channels,
/// never a destination, a code or a key.
public final class ServerMetrics: EngineObserver, Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
    ]

    public init() {}

    /// Counters and histograms by name and labels, looked up once: the registry's own lookup hashes the name and every
    /// label and checks the help text on each call, which is measurable on the hot path. Labels are low-cardinality
    /// (channels, reasons, providers), so the caches stay small.
    private let counters = Mutex<[String: Counter]>([:])
    private let histograms = Mutex<[String: DurationHistogram]>([:])

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(into: name) { key, label in key += "\u{0}\(label.0)=\(label.1)" }
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)]) -> Counter {
        let key = Self.key(name, labels)
        return counters.withLock { cache in
            if let hit = cache[key] { return hit }
            let made = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, helpText: help), labels: labels)
            cache[key] = made
            return made
        }
    }

    private func histogram(_ name: String, _ help: String, _ labels: [(String, String)], buckets: [Duration]) -> DurationHistogram {
        let key = Self.key(name, labels)
        return histograms.withLock { cache in
            if let hit = cache[key] { return hit }
            let made = registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(metricName: name, helpText: help), labels: labels, buckets: buckets)
            cache[key] = made
            return made
        }
    }

    /// The request metrics of each (route, method, status), looked up once; the key is built from the request's
    /// own strings, so a lookup allocates nothing.
    private struct RequestKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }
    private let requestMetrics = Mutex<[RequestKey: (Counter, DurationHistogram)]>([:])

    public func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let metrics = requestMetrics.withLock { cache in
            if let hit = cache[key] { return hit }
            let made = (
                counter(
                    "otpgate_http_requests_total", "HTTP requests by route, method and status",
                    [("route", route), ("method", method), ("status", String(status))]),
                registry.makeDurationHistogram(
                    descriptor: MetricNameDescriptor(metricName: "otpgate_http_request_duration_seconds", helpText: "HTTP request latency by route"),
                    labels: [("route", route), ("method", method)], buckets: Self.latencyBuckets)
            )
            // Routes are the registered templates, so the cache stays small; unmatched paths share one label.
            cache[key] = made
            return made
        }
        metrics.0.increment()
        metrics.1.record(duration)
    }

    public func verificationStarted(channel: Channel) {
        counter("otpgate_verifications_started_total", "Verifications started", [("channel", channel.rawValue)]).increment()
    }

    public func testVerificationStarted(channel: Channel) {
        counter(
            "otpgate_test_verifications_started_total", "Starts to tenants' test destinations (fixed codes, never delivered)",
            [
                ("channel", channel.rawValue)
            ]
        ).increment()
    }

    public func verificationApproved(channel: Channel) {
        counter("otpgate_verifications_approved_total", "Verifications approved", [("channel", channel.rawValue)]).increment()
    }

    public func checkFailed(channel: Channel) {
        counter("otpgate_verifications_failed_total", "Checks with an incorrect code", [("channel", channel.rawValue)]).increment()
    }

    public func startRefused(reason: String) {
        counter("otpgate_starts_refused_total", "Starts refused by an abuse defence, by reason", [("reason", reason)]).increment()
    }

    public func abuseHoldMade(_ hold: AbuseHold) {
        counter("otpgate_abuse_holds_total", "Number prefixes held by the conversion guard", [("reason", hold.reason.rawValue)]).increment()
    }

    public func budgetWarning(tenantID: String, budget: String) {
        counter("otpgate_budget_warnings_total", "Send budgets taken across 80 % of their limit", [("budget", budget)]).increment()
    }

    public func verificationsExpired(channel: Channel, count: Int) {
        counter("otpgate_verifications_expired_total", "Verifications that expired unapproved", [("channel", channel.rawValue)])
            .increment(by: Int64(count))
    }

    public func messageDelivered(channel: Channel, sender: String, outcome: String) {
        counter(
            "otpgate_messages_total", "Outbox delivery attempts by channel, provider and outcome",
            [("channel", channel.rawValue), ("sender", sender), ("outcome", outcome)]
        )
        .increment()
    }

    static let sendBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// How long one provider call took (success or failure).
    public func sendLatency(channel: Channel, sender: String, duration: Duration) {
        histogram(
            "otpgate_send_duration_seconds", "Provider send latency by channel and provider", [("channel", channel.rawValue), ("sender", sender)],
            buckets: Self.sendBuckets
        ).record(duration)
    }

    /// The outbox's backlog: messages waiting or being sent, and how long the oldest has waited (0 when empty).
    public func outboxBacklog(depth: Int, oldestAge: Duration) {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "otpgate_outbox_depth", helpText: "Outbox messages not yet finished"))
            .set(Double(depth))
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "otpgate_outbox_oldest_age_seconds", helpText: "Age of the oldest outbox message not yet finished")
        ).set(Double(oldestAge.components.seconds) + Double(oldestAge.components.attoseconds) / 1e18)
    }

    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
