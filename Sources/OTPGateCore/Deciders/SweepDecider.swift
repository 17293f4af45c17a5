/// What one sweep does, as cutoffs computed from the time and the retention: the store applies each in bounded
/// batches (so no sweep holds the writer or a lock for long) and reports what it did.
public struct SweepPlan: Sendable, Equatable {
    public var now: Timestamp
    /// Pending verifications, and undelivered messages, that expire at or before this are marked expired.
    public var expireBefore: Timestamp
    /// Idempotency records created before this are deleted.
    public var idempotencyBefore: Timestamp
    /// Consumed-token entries of tokens that expired before this are deleted.
    public var consumedTokensBefore: Timestamp
    /// Request counters whose window value (seconds: the start of a per-key or failed-authentication window, the end of a
    /// client window) is before this are deleted.
    public var keyCounterWindowsBefore: Int64
    /// Conversion-guard buckets (named by the second they end) before this are out of the sliding hour and deleted.
    public var trafficBucketsBefore: Int64
    /// Finished outbox messages created before this, finished verifications last changed before this, and abuse holds
    /// that ended before this are deleted.
    public var finishedBefore: Timestamp
    /// Destination records without failures whose lock (if any) ended before this are deleted.
    public var unlockedBefore: Timestamp
    /// A tenant's audit entries covered by its newest checkpoint signed before this are deleted, with older checkpoints;
    /// that checkpoint is kept, so the rest of the chain still verifies from its signed hash.
    public var auditBefore: Timestamp
    /// The most rows one statement changes.
    public var batchSize: Int
}

public struct SweepReport: Sendable, Equatable {
    public var expiredByChannel: [Channel: Int] = [:]
    public var deletedRows = 0
    public init() {}
}

/// Decides what a sweep removes: expired codes at once, idempotency keys after their window, counters after a
/// minute, finished verifications and messages after the retention.
public enum SweepDecider {
    public static func plan(now: Timestamp, retention: Duration, auditRetention: Duration = .seconds(365 * 86_400), batchSize: Int = 1000)
        -> SweepPlan
    {
        SweepPlan(
            now: now, expireBefore: now, idempotencyBefore: now - IdempotencyRecord.defaultWindow, consumedTokensBefore: now,
            keyCounterWindowsBefore: KeyRequestLimit.window(now) - 60,
            trafficBucketsBefore: PumpingGuard.windowStart(at: now) - PumpingGuard.bucketSeconds, finishedBefore: now - retention,
            unlockedBefore: now, auditBefore: now - auditRetention,
            batchSize: batchSize)
    }
}
