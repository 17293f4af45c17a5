/// A JSON number kept as its exact text (RFC 8259 §6), so nothing is rounded on the way through: `1.50` is written
/// back as `1.50`, and `12345678901234567890` keeps every digit. Conversions to Swift numbers are explicit and exact
/// (`intValue`, `int64Value`) or explicitly nearest (`doubleValue`).
///
/// Two numbers are equal when their text is, as on the wire: `1`, `1.0` and `1e0` are three different numbers here.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The number as written: always valid JSON number text.
    public let text: String

    /// Text the caller has already checked against the grammar (the parser).
    init(validated text: String) { self.text = text }

    /// The number `text` spells, or `nil` unless `text` is exactly a JSON number: no leading `+`, no leading zeros,
    /// no `.5` or `5.`, no `NaN` or `Infinity`, no whitespace.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, JSONNumber.end(of: bytes, from: 0) == bytes.count else { return nil }
        self.text = text
    }

    public init(_ value: Int) { text = String(value) }
    public init(_ value: Int64) { text = String(value) }
    public init(_ value: UInt64) { text = String(value) }

    /// The shortest text that reads back as `value`; `nil` for NaN and the infinities, which JSON cannot carry.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        text = value.description
    }

    public init(integerLiteral value: Int) { self.init(value) }

    public var description: String { text }

    /// The number as an `Int` if it is an integer in `Int`'s range, whatever its spelling (`6`, `6.0`, `0.6e1`);
    /// `nil` for `6.5`, `1e400` or `12345678901234567890`. Exact: decided on the digits, never through a `Double`.
    public var intValue: Int? { int64Value.flatMap { Int(exactly: $0) } }

    /// As `intValue`, for `Int64`.
    public var int64Value: Int64? {
        guard let (negative, magnitude) = exactInteger() else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// As `intValue`, for `UInt64`.
    public var uint64Value: UInt64? {
        guard let (negative, magnitude) = exactInteger(), !negative || magnitude == 0 else { return nil }
        return magnitude
    }

    /// The nearest `Double`: `1.50` gives 1.5, an integer above 2^53 may be rounded, and a magnitude beyond `Double`'s
    /// range gives ±infinity (`1e400`). For display or arithmetic, never for an exact check.
    public var doubleValue: Double { Double(text) ?? .nan }

    /// Sign and magnitude when the number is an integer that fits 64 bits unsigned. The value is read as
    /// digits × 10^(exponent − fraction digits): the digits past the decimal point, after shifting by the exponent,
    /// must all be zero.
    func exactInteger() -> (negative: Bool, magnitude: UInt64)? {
        var copy = text
        return copy.withUTF8 { b -> (negative: Bool, magnitude: UInt64)? in
            var i = 0
            let negative = i < b.count && b[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            let integerStart = i
            while i < b.count, b[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            let integerCount = i - integerStart
            var fractionStart = i
            var fractionCount = 0
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                fractionStart = i
                while i < b.count, b[i] &- UInt8(ascii: "0") < 10 { i += 1 }
                fractionCount = i - fractionStart
            }
            var exponent = 0
            if i < b.count, b[i] | 0x20 == UInt8(ascii: "e") {
                i += 1
                var exponentNegative = false
                if i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") {
                    exponentNegative = b[i] == UInt8(ascii: "-")
                    i += 1
                }
                // Saturates: past 100 000 the answer no longer depends on the exponent (the text is far shorter).
                while i < b.count, b[i] &- UInt8(ascii: "0") < 10 {
                    exponent = min(exponent * 10 + Int(b[i] &- UInt8(ascii: "0")), 100_000)
                    i += 1
                }
                if exponentNegative { exponent = -exponent }
            }
            // The first `kept` digits of integer + fraction form the integer part; the rest must be zeros.
            let total = integerCount + fractionCount
            let kept = integerCount + exponent
            var magnitude: UInt64 = 0
            for k in 0..<total {
                let digit = UInt64((k < integerCount ? b[integerStart + k] : b[fractionStart + k - integerCount]) &- UInt8(ascii: "0"))
                if k < kept {
                    let (shifted, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = shifted.addingReportingOverflow(digit)
                    if o1 || o2 { return nil }
                    magnitude = sum
                } else if digit != 0 {
                    return nil
                }
            }
            var padding = kept - total
            while padding > 0, magnitude != 0 {
                let (shifted, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                if overflow { return nil }
                magnitude = shifted
                padding -= 1
            }
            return (negative, magnitude)
        }
    }

    /// Where the JSON number starting at `start` ends (RFC 8259 §6:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`), or `nil` if no number starts there.
    static func end(of bytes: [UInt8], from start: Int) -> Int? {
        var i = start
        let n = bytes.count
        if i < n, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n else { return nil }
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else if bytes[i] &- UInt8(ascii: "1") < 9 {
            i += 1
            while i < n, bytes[i] &- UInt8(ascii: "0") < 10 { i += 1 }
        } else {
            return nil
        }
        if i < n, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let digits = i
            while i < n, bytes[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            guard i > digits else { return nil }
        }
        if i < n, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < n, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let digits = i
            while i < n, bytes[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            guard i > digits else { return nil }
        }
        return i
    }
}

extension Int {
    /// The number if it is an integer in range (see `JSONNumber.intValue`), as `Int(exactly:)` does for a `Double`.
    public init?(_ number: JSONNumber) {
        guard let value = number.intValue else { return nil }
        self = value
    }
}
