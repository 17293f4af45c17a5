/// The budget limits of a policy; nil is no limit.
public struct SendBudgets: Sendable, Equatable {
    public var smsPerDay: Int?
    public var smsPerMonth: Int?
    public var emailPerDay: Int?
    public var emailPerMonth: Int?
    /// Millionths of the price table's currency.
    public var spendPerDay: Int64?
    public var spendPerMonth: Int64?

    public init() {}

    public var isSet: Bool {
        smsPerDay != nil || smsPerMonth != nil || emailPerDay != nil || emailPerMonth != nil || spendPerDay != nil || spendPerMonth != nil
    }

    func messages(_ channel: Channel, _ period: SendBudget.Period) -> Int? {
        switch (channel, period) {
        case (.sms, .day): smsPerDay
        case (.sms, .month): smsPerMonth
        case (.email, .day): emailPerDay
        case (.email, .month): emailPerMonth
        }
    }

    func spend(_ period: SendBudget.Period) -> Int64? { period == .day ? spendPerDay : spendPerMonth }
}
