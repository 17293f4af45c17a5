/// Fixed-window counters shared by every instance: what the failed-authentication limit counts per client address.
public protocol RequestCounters: Sendable {
    /// Adds one to the counter `scope` in `window` (a counter left from an earlier window starts over) in one atomic
    /// statement, and returns the count including this one.
    func incrementCounter(scope: String, window: Int64) async throws -> Int
}
