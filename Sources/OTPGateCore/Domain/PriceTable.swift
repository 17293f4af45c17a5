/// What one message costs, by channel and destination prefix, for the money budgets. Read from a small text file
/// (`OTPGATE_PRICE_TABLE`), one rule per line, `#` comments:
///
///     currency INR
///     sms +91    0.25
///     sms +9170  2.50
///     sms *      6.00
///     email *    0.02
///
/// The longest matching prefix wins (an email rule names the domain, `@example.com`); `*` is a channel's default; a
/// message no rule matches costs nothing. Prices
/// are held in millionths of the currency unit, so sums are exact.
public struct PriceTable: Sendable, Equatable {
    public var currency: String
    /// Rules per channel, longest prefix first; `""` is the `*` default.
    public var rules: [Channel: [(prefix: String, micros: Int64)]]

    public init(currency: String = "INR", rules: [Channel: [(prefix: String, micros: Int64)]] = [:]) {
        self.currency = currency
        self.rules = rules.mapValues { $0.sorted { $0.prefix.count > $1.prefix.count } }
    }

    public static func == (a: PriceTable, b: PriceTable) -> Bool {
        a.currency == b.currency && a.rules.keys == b.rules.keys
            && a.rules.allSatisfy { channel, rules in
                let other = b.rules[channel] ?? []
                return rules.count == other.count && zip(rules, other).allSatisfy { $0.prefix == $1.prefix && $0.micros == $1.micros }
            }
    }

    public var isEmpty: Bool { rules.values.allSatisfy(\.isEmpty) }

    /// The price of one message to `destination`, in millionths.
    public func micros(for destination: Destination) -> Int64 {
        for rule in rules[destination.channel] ?? [] {
            let matches = rule.prefix.hasPrefix("@") ? destination.value.hasSuffix(rule.prefix) : destination.value.hasPrefix(rule.prefix)
            if matches { return rule.micros }
        }
        return 0
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Reads the file format above; every bad line is an error naming it.
    public init(parsing text: String) throws(ParseError) {
        var currency = "INR"
        var rules: [Channel: [(prefix: String, micros: Int64)]] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard !words.isEmpty else { continue }
            let number = index + 1
            if words[0] == "currency" {
                guard words.count == 2, (3...3).contains(words[1].count), words[1].allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                    throw ParseError(line: number, reason: "currency must be a three-letter ISO 4217 code, e.g. currency INR")
                }
                currency = String(words[1])
                continue
            }
            guard words.count == 3, let channel = Channel(rawValue: String(words[0])) else {
                throw ParseError(line: number, reason: "expected `<sms|email> <prefix or *> <price>`")
            }
            let prefix: String
            if words[1] == "*" {
                prefix = ""
            } else if channel == .sms, words[1].hasPrefix("+"), (2...16).contains(words[1].count),
                words[1].dropFirst().allSatisfy({ $0.isASCII && $0.isNumber })
            {
                prefix = String(words[1])
            } else if channel == .email, words[1].hasPrefix("@"), words[1].count > 1 {
                prefix = String(words[1])
            } else {
                throw ParseError(line: number, reason: "an sms prefix is + and digits (+9170), an email one @domain, or * for the default")
            }
            guard let micros = Self.micros(words[2]) else {
                throw ParseError(line: number, reason: "a price is a decimal number with at most 6 decimal places, e.g. 0.25")
            }
            if rules[channel, default: []].contains(where: { $0.prefix == prefix }) {
                throw ParseError(line: number, reason: "\(words[1]) is priced twice for \(channel.rawValue)")
            }
            rules[channel, default: []].append((prefix, micros))
        }
        self.init(currency: currency, rules: rules)
    }

    /// `0.25` → 250000; nil for anything but a non-negative decimal with at most 12 digits before the point and 6 after.
    public static func micros(_ text: Substring) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 12, whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= 6, fraction.allSatisfy({ $0.isASCII && $0.isNumber }), parts.count == 1 || !fraction.isEmpty else { return nil }
        guard let units = Int64(whole), let decimals = Int64(fraction + String(repeating: "0", count: 6 - fraction.count)) else { return nil }
        return units * 1_000_000 + decimals
    }

    /// `250000` → `0.25`.
    public static func decimal(_ micros: Int64) -> String {
        let units = micros / 1_000_000
        var fraction = String(micros % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") && fraction.count > 2 { fraction.removeLast() }
        return "\(units).\(fraction)"
    }
}
