/// Decides what a delivery attempt's result means for its message: sent, retried after an exponential backoff,
/// or given up (a permanent failure, or the last attempt); a code past its expiry is not sent at all.
public enum DeliveryDecider {
    /// Whether the message is still worth sending.
    public static func isExpired(_ message: OutboxMessage, now: Timestamp) -> Bool { now >= message.expiresAt }

    /// The outcome after a failed attempt (`message.attempts` counts it).
    public static func afterFailure(_ message: OutboxMessage, error: DeliveryError, now: Timestamp, maxAttempts: Int) -> DeliveryOutcome {
        guard error.retryable, message.attempts < maxAttempts else { return .failed(error: error.reason) }
        return .retry(at: now + backoff(afterAttempt: message.attempts), error: error.reason)
    }

    /// 2, 4, 8 … seconds after the first, second, third attempt, at most 256 s.
    public static func backoff(afterAttempt attempt: Int) -> Duration { .seconds(1 << min(max(attempt, 0), 8)) }
}
