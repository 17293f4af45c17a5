public import Foundation

/// A point in time as whole milliseconds since the Unix epoch: the unit every stored timestamp uses,
/// so SQLite and PostgreSQL compare the same integers and tests can move time without sleeping.
public struct Timestamp: Sendable, Hashable, Comparable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }
    public init(_ date: Date) { self.milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }

    public var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
    public var seconds: Int64 { milliseconds / 1000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }
    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(milliseconds: lhs.milliseconds + rhs.wholeMilliseconds)
    }
    public static func - (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(milliseconds: lhs.milliseconds - rhs.wholeMilliseconds)
    }
    /// The time from `rhs` to `lhs`.
    public static func - (lhs: Timestamp, rhs: Timestamp) -> Duration { .milliseconds(lhs.milliseconds - rhs.milliseconds) }

    /// ISO 8601 in UTC with second precision, as the API renders times.
    public var iso8601: String { Timestamp.formatter.format(date) }
    private static let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt)
}

extension Duration {
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
    /// Whole seconds, rounded up: what a `Retry-After` header may carry.
    public var secondsRoundedUp: Int64 { (wholeMilliseconds + 999) / 1000 }
}

/// The source of "now" for every decision. Injected so tests can move time without sleeping.
public protocol Clock: Sendable {
    func now() -> Timestamp
}

/// The wall clock.
public struct SystemClock: Clock {
    public init() {}
    public func now() -> Timestamp { Timestamp(Date()) }
}
