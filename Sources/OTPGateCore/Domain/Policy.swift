/// The rules one tenant's verifications follow. Defaults follow NIST SP 800-63B and OWASP ASVS
/// (NIST SP 800-63B-4 and OWASP, as docs/API.md lists them): 6 digits, 5 minutes, 5 attempts that survive resends, growing resend cooldowns.
public struct Policy: Sendable, Equatable {
    public var defaultCodeLength = 6
    public var defaultTTLSeconds = 300
    public var defaultMaxAttempts = 5
    /// Sends (first send plus resends) allowed per verification.
    public var maxSends = 5
    /// The cooldown after the first send; it doubles after each further send.
    public var resendCooldownSeconds = 30
    public var startsPerDestination = 5
    public var startWindowSeconds = 600
    /// Consecutive failed checks against one destination (across its verifications) that lock it.
    public var failedChecksBeforeLock = 10
    public var failureWindowSeconds = 3600
    public var lockSeconds = 3600
    public var requestsPerKeyPerSecond = 100
    public var tokenTTLSeconds = 300
    /// How long a fallback message waits for the first message's delivery report.
    public var fallbackAfterSeconds = 30
    /// The tenant's default fallback chain: used for a start that names a destination on one of these channels
    /// (`to_email`, `to_phone`) without asking for a chain itself.
    public var fallbackChannels: [Channel] = []
    /// The country calling codes phone numbers may belong to; `*` allows any.
    public var allowedCountries: [String] = ["91"]
    /// Starts one client address (`client_ip`) of a tenant may make per window: generous, since carriers put many
    /// phones behind one address.
    public var startsPerClientIP = 30
    /// Starts one device or browser (`client_fingerprint`) may make per window.
    public var startsPerClientFingerprint = 10
    public var clientWindowSeconds = 600
    /// The conversion guard (`PumpingGuard`): on by default; the benchmarks turn it off, since their traffic is
    /// thousands of starts nobody checks.
    public var pumpingGuard = true
    /// Sends to one prefix in the sliding hour before its approval rate is judged.
    public var pumpingMinSends = 100
    /// Below this share of approved verifications (percent), a prefix with enough sends is held.
    public var pumpingMinApprovalPercent = 20
    public var pumpingHoldSeconds = 3600
    /// Send budgets per channel and in money (none by default), and the deployment's prices for the money ones.
    public var budgets = SendBudgets()
    public var prices = PriceTable()

    public init() {}

    public static let fallbackAfterRange = 5...300

    public static let codeLengthRange = 4...10
    public static let ttlRange = 30...600
    public static let maxAttemptsRange = 1...10
    public static let tokenTTLRange = 30...600
    /// NIST SP 800-63B §5.2.2: no more than 100 consecutive failed attempts on one account.
    public static let failedChecksCeiling = 100

    /// The resend cooldown after `sends` sends have happened: 30 s, 60 s, 120 s, … capped at 10 minutes.
    public func resendCooldown(afterSends sends: Int) -> Duration {
        let exponent = min(max(sends - 1, 0), 10)
        return .seconds(min(resendCooldownSeconds << exponent, 600))
    }

    /// This policy with a tenant's overrides applied.
    public func applying(_ overrides: PolicyOverrides) -> Policy {
        var p = self
        if let v = overrides.startsPerDestination { p.startsPerDestination = v }
        if let v = overrides.startWindowSeconds { p.startWindowSeconds = v }
        if let v = overrides.failedChecksBeforeLock { p.failedChecksBeforeLock = v }
        if let v = overrides.lockSeconds { p.lockSeconds = v }
        if let v = overrides.requestsPerKeyPerSecond { p.requestsPerKeyPerSecond = v }
        if let v = overrides.resendCooldownSeconds { p.resendCooldownSeconds = v }
        if let v = overrides.maxSends { p.maxSends = v }
        if let v = overrides.tokenTTLSeconds { p.tokenTTLSeconds = v }
        if let v = overrides.fallbackAfterSeconds { p.fallbackAfterSeconds = v }
        if let v = overrides.fallbackChannels { p.fallbackChannels = v }
        if let v = overrides.allowedCountries { p.allowedCountries = v }
        if let v = overrides.startsPerClientIP { p.startsPerClientIP = v }
        if let v = overrides.startsPerClientFingerprint { p.startsPerClientFingerprint = v }
        if let v = overrides.pumpingGuard { p.pumpingGuard = v }
        if let v = overrides.pumpingMinSends { p.pumpingMinSends = v }
        if let v = overrides.pumpingMinApprovalPercent { p.pumpingMinApprovalPercent = v }
        if let v = overrides.smsPerDay { p.budgets.smsPerDay = v == 0 ? nil : v }
        if let v = overrides.smsPerMonth { p.budgets.smsPerMonth = v == 0 ? nil : v }
        if let v = overrides.emailPerDay { p.budgets.emailPerDay = v == 0 ? nil : v }
        if let v = overrides.emailPerMonth { p.budgets.emailPerMonth = v == 0 ? nil : v }
        if let v = overrides.spendPerDayMicros { p.budgets.spendPerDay = v == 0 ? nil : Int64(v) }
        if let v = overrides.spendPerMonthMicros { p.budgets.spendPerMonth = v == 0 ? nil : Int64(v) }
        return p
    }
}

/// Per-tenant overrides, stored as JSON on the tenant row (`jsonText`).
public struct PolicyOverrides: Sendable, Equatable {
    public var startsPerDestination: Int?
    public var startWindowSeconds: Int?
    public var failedChecksBeforeLock: Int?
    public var lockSeconds: Int?
    public var requestsPerKeyPerSecond: Int?
    public var resendCooldownSeconds: Int?
    public var maxSends: Int?
    public var tokenTTLSeconds: Int?
    public var fallbackAfterSeconds: Int?
    /// `[]` turns a default chain off for this tenant; `nil` keeps the deployment's.
    public var fallbackChannels: [Channel]?
    public var allowedCountries: [String]?
    public var startsPerClientIP: Int?
    public var startsPerClientFingerprint: Int?
    public var pumpingGuard: Bool?
    public var pumpingMinSends: Int?
    public var pumpingMinApprovalPercent: Int?
    /// Budgets: 0 removes the deployment's limit for this tenant.
    public var smsPerDay: Int?
    public var smsPerMonth: Int?
    public var emailPerDay: Int?
    public var emailPerMonth: Int?
    public var spendPerDayMicros: Int?
    public var spendPerMonthMicros: Int?

    public init() {}
}
