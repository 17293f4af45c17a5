/// Decides what a delivery attempt's result means for its message: sent, retried after an exponential backoff with
/// jitter, or given up (a permanent failure, or the last attempt); a code past its expiry is not sent at all.
public enum DeliveryDecider {
    /// Whether the message is still worth sending.
    public static func isExpired(_ message: OutboxMessage, now: Timestamp) -> Bool { now >= message.expiresAt }

    /// The outcome after a failed attempt (`message.attempts` counts it). `jitter` (0 ≤ jitter < 1, from the random
    /// source) spreads the retries of messages that failed together (a gateway outage) so they do not return together.
    public static func afterFailure(_ message: OutboxMessage, error: DeliveryError, now: Timestamp, maxAttempts: Int, jitter: Double = 0)
        -> DeliveryOutcome
    {
        guard error.retryable, message.attempts < maxAttempts else { return .failed(error: error.reason) }
        return .retry(at: now + backoff(afterAttempt: message.attempts, jitter: jitter), error: error.reason)
    }

    /// "Equal jitter": half of 2, 4, 8 … seconds (after the first, second, third attempt; at most 256 s) fixed, the other
    /// half random, so a retry never comes sooner than half the step and the steps still grow.
    public static func backoff(afterAttempt attempt: Int, jitter: Double = 0) -> Duration {
        let step = Int64(1000) << Int64(min(max(attempt, 0), 8))
        let random = Int64((Double(step / 2) * min(max(jitter, 0), 0.999)).rounded(.down))
        return .milliseconds(step / 2 + random)
    }
}
