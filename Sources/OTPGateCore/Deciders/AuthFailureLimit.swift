/// The limit on failed authentications per client address: a fixed one-minute window, counted in the store
/// (`RequestCounters`) so every instance sees the same count. A client past it is refused without a key lookup
/// until the window ends.
public enum AuthFailureLimit {
    public static let windowLength = Duration.seconds(60)

    /// The counter row an address's failures are counted in (by the address's blind index, never the address).
    public static func scope(address index: String) -> String { "auth:" + index }

    /// The window a failure falls in, in seconds since the epoch (its start), like the per-key counters' windows,
    /// so the sweeper's cutoff removes both.
    public static func window(_ now: Timestamp) -> Int64 { now.seconds - now.seconds % 60 }

    /// When the current window ends: how long a refused client waits.
    public static func windowEnd(_ now: Timestamp) -> Timestamp { Timestamp(seconds: window(now) + 60) }

    /// Whether `count` failures in one window (including the latest) are past `limit`.
    public static func isExceeded(count: Int, limit: Int) -> Bool { count > limit }
}
