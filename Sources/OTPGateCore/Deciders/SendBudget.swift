/// A tenant's send budgets: how many messages per channel, and how much money (priced by `PriceTable`), per UTC day
/// and per calendar month (UTC). Each is an atomic conditional add in the store (`BudgetStore`), so every instance
/// spends from one budget; a message that would take a budget past its limit is refused with `budgetExhausted`.
public enum SendBudget {
    public enum Period: String, Sendable {
        case day, month
    }

    /// One budget a send spends from.
    public struct Charge: Sendable, Equatable {
        /// `sms_per_day`, `email_per_month`, `spend_per_day` …
        public var name: String
        public var scope: String
        /// The second the period ends (UTC midnight, or the first of the next month).
        public var windowEnd: Int64
        /// Messages, or millionths of the price table's currency.
        public var amount: Int64
        public var limit: Int64
        public var isMoney: Bool
    }

    /// The budgets a send of `destinations` spends from under `policy`, each period's one charge.
    public static func charges(for destinations: [Destination?], tenantID: String, policy: Policy, now: Timestamp) -> [Charge] {
        let sends = destinations.compactMap { $0 }
        guard !sends.isEmpty, policy.budgets.isSet else { return [] }
        var charges: [Charge] = []
        for period in [Period.month, .day] {
            let end = windowEnd(period, now: now)
            for channel in Channel.allCases {
                let count = Int64(sends.filter { $0.channel == channel }.count)
                guard count > 0, let limit = policy.budgets.messages(channel, period) else { continue }
                let name = "\(channel.rawValue)_per_\(period.rawValue)"
                charges.append(
                    Charge(name: name, scope: "budget:\(tenantID):\(name)", windowEnd: end, amount: count, limit: Int64(limit), isMoney: false))
            }
            if let limit = policy.budgets.spend(period) {
                let amount = sends.reduce(Int64(0)) { $0 + policy.prices.micros(for: $1) }
                let name = "spend_per_\(period.rawValue)"
                charges.append(Charge(name: name, scope: "budget:\(tenantID):\(name)", windowEnd: end, amount: amount, limit: limit, isMoney: true))
            }
        }
        return charges
    }

    /// The warning threshold: 80 % of the limit, rounded up.
    public static func warnAt(_ charge: Charge) -> Int64 { (charge.limit * 8 + 9) / 10 }

    /// Whether this charge took its budget across 80 % (`total` includes it): the one moment a warning is sent.
    public static func crossesWarning(_ charge: Charge, total: Int64) -> Bool {
        let mark = warnAt(charge)
        return total - charge.amount < mark && total >= mark
    }

    public static func refusal(_ charge: Charge, now: Timestamp) -> VerificationError {
        .budgetExhausted(retryAfter: max(Timestamp(seconds: charge.windowEnd) - now, .seconds(1)))
    }

    /// The data of a `budget.warning` webhook event (sent when a charge takes the total to 80 % of the limit).
    public static func warningDetail(_ charge: Charge, currency: String) -> JSONValue {
        var o: [String: JSONValue] = [
            "budget": .string(charge.name), "period_ends_at": .string(Timestamp(seconds: charge.windowEnd).iso8601),
            "threshold_percent": .int(80),
        ]
        if charge.isMoney {
            o["limit"] = .string(PriceTable.decimal(charge.limit))
            o["currency"] = .string(currency)
        } else {
            o["limit"] = .int(Int(charge.limit))
        }
        return .object(o)
    }

    /// The subject of a budget's warning event: one per budget and period.
    public static func warningSubject(_ charge: Charge) -> String {
        "budget_\(charge.name)_\(charge.windowEnd)"
    }

    /// The second a period that contains `now` ends, in UTC.
    public static func windowEnd(_ period: Period, now: Timestamp) -> Int64 {
        let day: Int64 = 86_400
        let days = now.seconds >= 0 ? now.seconds / day : (now.seconds - day + 1) / day
        switch period {
        case .day: return (days + 1) * day
        case .month:
            let (year, month) = CivilDate.yearMonth(daysSinceEpoch: days)
            let next = month == 12 ? (year + 1, 1) : (year, month + 1)
            return CivilDate.daysSinceEpoch(year: next.0, month: next.1, day: 1) * day
        }
    }
}
