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

    /// ISO 8601 in UTC with second precision, as the API renders times: `2027-01-31T09:05:00Z`.
    public var iso8601: String {
        // Written digit by digit: every answer renders four times, and the format style was a visible part of the
        // 2.2 % of a start's CPU its rendering took. Years outside 1600...9999 take the format style's path: its calendar is Julian before
        // 1582, and a year past 9999 has more digits.
        var days = milliseconds / 86_400_000
        var millisecondOfDay = milliseconds % 86_400_000
        if millisecondOfDay < 0 {
            days -= 1
            millisecondOfDay += 86_400_000
        }
        let (year, month, day) = CivilDate.civil(daysSinceEpoch: days)
        guard (1600...9999).contains(year) else { return Timestamp.formatter.format(date) }
        let second = millisecondOfDay / 1000
        return String(unsafeUninitializedCapacity: 20) { out in
            func put(_ value: Int64, _ digits: Int, at start: Int) {
                var rest = value
                for index in stride(from: start + digits - 1, through: start, by: -1) {
                    out[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
            }
            put(year, 4, at: 0)
            put(month, 2, at: 5)
            put(day, 2, at: 8)
            put(second / 3600, 2, at: 11)
            put(second / 60 % 60, 2, at: 14)
            put(second % 60, 2, at: 17)
            out[4] = UInt8(ascii: "-")
            out[7] = UInt8(ascii: "-")
            out[10] = UInt8(ascii: "T")
            out[13] = UInt8(ascii: ":")
            out[16] = UInt8(ascii: ":")
            out[19] = UInt8(ascii: "Z")
            return 20
        }
    }
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
