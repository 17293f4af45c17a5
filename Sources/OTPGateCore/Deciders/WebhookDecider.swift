/// Decides what a webhook delivery attempt means: a 2xx answer delivers the event; anything else (another status,
/// a timeout, a refused connection) is retried on a growing schedule, the receiver's outage measured in hours, not
/// seconds, until the attempts are spent. A 410 Gone stops at once (the receiver says the endpoint is retired).
public enum WebhookDecider {
    /// Waits before attempts 2, 3, … : 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h (about 16 hours in all).
    public static let schedule: [Duration] = [
        .seconds(5), .seconds(30), .seconds(120), .seconds(600), .seconds(1800), .seconds(3600), .seconds(7200), .seconds(14_400), .seconds(28_800),
    ]
    public static var maxAttempts: Int { schedule.count + 1 }

    public static func after(_ event: WebhookEvent, status: Int?, error: String?, now: Timestamp) -> WebhookResult {
        if let status, (200..<300).contains(status) {
            return WebhookResult(eventID: event.id, attempt: event.attempts, state: .delivered, status: status)
        }
        let reason = error ?? status.map { "HTTP \($0)" } ?? "no answer"
        guard status != 410, event.attempts < maxAttempts else {
            return WebhookResult(eventID: event.id, attempt: event.attempts, state: .failed, status: status, error: reason)
        }
        let wait = schedule[min(max(event.attempts - 1, 0), schedule.count - 1)]
        return WebhookResult(eventID: event.id, attempt: event.attempts, state: .pending, nextAttemptAt: now + wait, status: status, error: reason)
    }
}
