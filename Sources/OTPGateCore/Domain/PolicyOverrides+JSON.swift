extension PolicyOverrides {
    /// The stored names of the overrides: those of the `Codable` form this replaces, so stored rows still read.
    private static func members() -> [(name: String, value: WritableKeyPath<PolicyOverrides, Int?>)] {
        [
            ("starts_per_destination", \.startsPerDestination),
            ("start_window_seconds", \.startWindowSeconds),
            ("failed_checks_before_lock", \.failedChecksBeforeLock),
            ("lock_seconds", \.lockSeconds),
            ("requests_per_key_per_second", \.requestsPerKeyPerSecond),
            ("resend_cooldown_seconds", \.resendCooldownSeconds),
            ("max_sends", \.maxSends),
            ("token_ttl_seconds", \.tokenTTLSeconds),
            ("fallback_after_seconds", \.fallbackAfterSeconds),
            ("starts_per_client_ip", \.startsPerClientIP),
            ("starts_per_client_fingerprint", \.startsPerClientFingerprint),
            ("pumping_min_sends", \.pumpingMinSends),
            ("pumping_min_approval_percent", \.pumpingMinApprovalPercent),
            ("sms_per_day", \.smsPerDay),
            ("sms_per_month", \.smsPerMonth),
            ("email_per_day", \.emailPerDay),
            ("email_per_month", \.emailPerMonth),
            ("spend_per_day_micros", \.spendPerDayMicros),
            ("spend_per_month_micros", \.spendPerMonthMicros),
        ]
    }

    /// The overrides as stored on the tenant row: a JSON object of the values that are set, keys sorted
    /// (`{}` when none is), e.g. `{"lock_seconds":60,"starts_per_destination":1}`.
    public var jsonText: String { json.canonicalText }

    /// The overrides that are set, as a JSON object (`jsonText` is its canonical text).
    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        for member in Self.members() {
            if let value = self[keyPath: member.value] { o[member.name] = .int(value) }
        }
        if let channels = fallbackChannels { o["fallback_channels"] = .array(channels.map { .string($0.rawValue) }) }
        if let codes = allowedCountries { o["allowed_countries"] = .array(codes.map(JSONValue.string)) }
        if let on = pumpingGuard { o["pumping_guard"] = .bool(on) }
        return .object(o)
    }

    /// Reads `jsonText`. A missing member or `null` leaves that override unset; unknown members are ignored; a value
    /// that is not an integer in `Int`'s range is an error naming it.
    public init(jsonText: String) throws {
        let f = try JSONFields(parsing: jsonText)
        self.init()
        for member in Self.members() {
            self[keyPath: member.value] = try f.optionalInt(member.name)
        }
        if f.optional("fallback_channels") != nil {
            fallbackChannels = try f.strings("fallback_channels").map { name throws(JSONShapeError) in
                guard let channel = Channel(rawValue: name) else { throw JSONShapeError(field: "fallback_channels", "unknown channel") }
                return channel
            }
        }
        if f.optional("allowed_countries") != nil { allowedCountries = try f.strings("allowed_countries") }
        pumpingGuard = try f.optionalBool("pumping_guard")
    }
}
