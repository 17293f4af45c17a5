import Configuration
import Foundation
public import Logging
public import OTPGateCore
public import OTPGateNativeAPI

/// Everything `otpgate` reads from its environment, with safe defaults. Command-line flags override these.
///
/// Configuration keys (environment variable in brackets):
/// - `otpgate.database.url` (`OTPGATE_DATABASE_URL`, default `sqlite:otpgate.sqlite`)
/// - `otpgate.host`, `otpgate.port` (`OTPGATE_HOST`, `OTPGATE_PORT`, default 127.0.0.1:8080)
/// - `otpgate.metrics.host`, `otpgate.metrics.port` (`OTPGATE_METRICS_HOST`, `OTPGATE_METRICS_PORT`, default 127.0.0.1:9464; 0 = any free port)
/// - `otpgate.env` (`OTPGATE_ENV`: `development` or `production`, default development)
/// - `otpgate.master.key` (`OTPGATE_MASTER_KEY`, secret: 32 bytes as base64 or 64 hex digits)
/// - `otpgate.master.key.file` (`OTPGATE_MASTER_KEY_FILE`, default: `<database>.master-key` beside a SQLite file)
/// - `otpgate.master.key.previous` (`OTPGATE_MASTER_KEY_PREVIOUS`, secret: the key a rotation moves away from)
/// - delivery: providers per channel, see `DeliverySettings` (`OTPGATE_DELIVERY`, `OTPGATE_SMTP_*`, `OTPGATE_SMS_*` …)
/// - `otpgate.allow.console.in.production` (`OTPGATE_ALLOW_CONSOLE_IN_PRODUCTION`, default false): the console serves
///   the channels without a provider in production too
/// - `otpgate.issuer` (`OTPGATE_ISSUER`, default `otpgate`): the `iss` of verification tokens
/// - `otpgate.log.level` (`OTPGATE_LOG_LEVEL`, default info)
/// - `otpgate.sqlite.synchronous` (`OTPGATE_SQLITE_SYNCHRONOUS`: FULL or NORMAL, default FULL)
/// - `otpgate.retention.days` (`OTPGATE_RETENTION_DAYS`, 1 to 3650, default 30): how long finished rows are kept
/// - `otpgate.audit.retention.days` (`OTPGATE_AUDIT_RETENTION_DAYS`, 1 to 3650, default 365): how long audit entries are kept
/// - `otpgate.postgres.*` (`OTPGATE_POSTGRES_POOL_SIZE`, `_BATCH_CONCURRENCY`, `_BATCH_SIZE`, `_TIMEOUT_SECONDS`)
/// - `otpgate.idle.timeout.seconds`, `otpgate.header.timeout.seconds`, `otpgate.body.timeout.seconds`,
///   `otpgate.max.connections` (`OTPGATE_IDLE_TIMEOUT_SECONDS` 75, `OTPGATE_HEADER_TIMEOUT_SECONDS` 10,
///   `OTPGATE_BODY_TIMEOUT_SECONDS` 30, `OTPGATE_MAX_CONNECTIONS` 10000): slow clients and the connection cap
/// - `otpgate.auth.failures.per.minute` (`OTPGATE_AUTH_FAILURES_PER_MINUTE`, default 20) and `otpgate.trusted.proxies`
///   (`OTPGATE_TRUSTED_PROXIES`, CIDRs): the failed-authentication limit per client address
/// - `otpgate.profile.session.seconds` (`OTPGATE_PROFILE_SESSION_SECONDS`, 60 to 86400, default 1800): how long a vendor
///   profile's session id (a Surepass `client_id`, a KwikID session) lives
/// - `otpgate.password.threads` (`OTPGATE_PASSWORD_THREADS`, default half the cores): threads for portal-password hashes
/// - `otpgate.policy.*` (`OTPGATE_POLICY_*`): default limits, see `Policy`
/// - `otpgate.bench.bare.route` (`OTPGATE_BENCH_BARE_ROUTE`, default false, refused in production): serve the
///   benchmark's `POST /bench/bare`
public struct ServerSettings: Sendable {
    public enum Environment: String, Sendable, CaseIterable { case development, production }
    /// SQLite's `synchronous` pragma: `FULL` survives power loss, `NORMAL` a process crash.
    public enum SQLiteSynchronous: String, Sendable, CaseIterable {
        case full = "FULL"
        case normal = "NORMAL"
    }

    public var database: DatabaseURL
    public var host: String
    public var port: Int
    public var environment: Environment
    /// Whether the audit log is written (`OTPGATE_AUDIT`, on by default; the benchmark's A/B turns it off).
    public var auditing = true
    /// Whether the benchmark's yardstick `POST /bench/bare` is served (`OTPGATE_BENCH_BARE_ROUTE`); never in production.
    public var benchBareRoute = false
    /// An operator's command's audit actor (`cli`), nil with auditing off.
    public var cliAuditActor: AuditActor? { auditing ? .cli : nil }
    public var masterKey: String?
    public var masterKeyFile: String?
    /// The master key being rotated away from (`OTPGATE_MASTER_KEY_PREVIOUS`): secrets still wrapped by it open
    /// while a rotation rolls out, and `otpgate master-key rotate` re-wraps them under the current one.
    public var masterKeyPrevious: String?
    public var delivery: DeliverySettings
    public var allowConsoleInProduction: Bool
    public var issuer: String
    /// The name the built-in message and templates' `{{brand}}` say (`OTPGATE_BRAND`, default OTPGate).
    public var brand = "OTPGate"
    public var logLevel: Logger.Level
    public var sqliteSynchronous: String
    /// Connections each instance keeps to PostgreSQL at most (`OTPGATE_POSTGRES_POOL_SIZE`, default 32).
    public var postgresPoolSize: Int
    /// Starts and checks each run at most this many transactions at once per instance
    /// (`OTPGATE_POSTGRES_BATCH_CONCURRENCY`, default 2); concurrent requests beyond share them.
    public var postgresBatchConcurrency: Int
    /// Requests one such transaction carries at most (`OTPGATE_POSTGRES_BATCH_SIZE`, default 64).
    public var postgresBatchSize: Int
    /// How long a PostgreSQL operation may wait (for a connection, a lock, an answer) before the request gets a 503
    /// (`OTPGATE_POSTGRES_TIMEOUT_SECONDS`, default 5).
    public var postgresTimeout: Duration
    public var retentionDays: Int
    /// How long audit entries are kept (`OTPGATE_AUDIT_RETENTION_DAYS`, default 365); they are purged only up to a
    /// signed checkpoint older than that.
    public var auditRetentionDays: Int
    /// `OTPGATE_*` variables that name no setting (a misspelt name, or one from a newer release): `serve` warns about
    /// them at start-up, by name only, since such a variable is otherwise silently ignored.
    public var unrecognizedVariables: [String] = []
    public var policy: Policy
    /// Where `/metrics` is served: its own listener, loopback by default; port 0 takes any free port.
    public var metricsHost = "127.0.0.1"
    public var metricsPort = 9464
    public var outboxMaxIdle: Duration = .milliseconds(500)
    public var sweepInterval: Duration = .seconds(30)
    /// Tenants' API keys and settings are cached this long (by the injected clock); a revoked key or a changed
    /// tenant policy takes effect within it.
    public var principalCacheTTL: Duration = .seconds(5)
    /// A connection with no request in progress (kept alive, or silent) is closed after this long
    /// (`OTPGATE_IDLE_TIMEOUT_SECONDS`, 1 to 3600, default 75: longer than the 60 s the shipped nginx keeps idle
    /// upstream connections, so that nginx, not OTPGate, closes them).
    public var idleTimeout: Duration = .seconds(75)
    /// A request head must be complete within this long of the connection opening, or of the first byte of the next
    /// request on a kept-alive connection (`OTPGATE_HEADER_TIMEOUT_SECONDS`, 1 to 300, default 10).
    public var headerTimeout: Duration = .seconds(10)
    /// A request body must be complete within this long of its head (`OTPGATE_BODY_TIMEOUT_SECONDS`, 1 to 600,
    /// default 30; bodies are at most 64 KiB).
    public var bodyTimeout: Duration = .seconds(30)
    /// Open connections each listener (the public one, the metrics one) holds at most; one more is answered 503 and
    /// closed (`OTPGATE_MAX_CONNECTIONS`, 1 to 1000000, default 10000). Keep it below the open-file limit (`ulimit -n`).
    public var maxConnections = 10_000
    /// Invalid API keys one client address may present per minute; past it, 429 until the minute ends
    /// (`OTPGATE_AUTH_FAILURES_PER_MINUTE`, 1 to 1000000, default 20).
    public var authFailuresPerMinute = 20
    /// Peers whose `X-Forwarded-For` names the client (`OTPGATE_TRUSTED_PROXIES`: comma-separated CIDRs or
    /// addresses, default none: the peer is the client).
    public var trustedProxies = TrustedProxies.none
    /// How long a vendor profile's session id lives (`OTPGATE_PROFILE_SESSION_SECONDS`, 60 to 86400, default 1800).
    public var profileSessionLifetime: Duration = .seconds(1800)
    /// Threads for the slow portal-password hashes (`OTPGATE_PASSWORD_THREADS`, 1 to 64; default half the cores).
    public var passwordThreads: Int?

    /// Reads settings from the process environment (or the given variables, for tests). A value that is set but
    /// cannot be used (not a number, out of range, an unknown word) is refused with a message naming its variable.
    public init(environment variables: [String: String], file: ConfigFile? = nil) throws {
        // Environment variables win over the file (flags, applied by the command line, win over both).
        let fromEnvironment = EnvironmentVariablesProvider(environmentVariables: variables)
        let r = SettingReader(
            reader: file.map { ConfigReader(providers: [fromEnvironment, $0.provider]) } ?? ConfigReader(provider: fromEnvironment))
        database = try DatabaseURL(parsing: try r.string("otpgate.database.url", default: "sqlite:otpgate.sqlite"))
        host = try r.string("otpgate.host", default: "127.0.0.1")
        port = try r.int("otpgate.port", default: 8080, in: 0...65535)
        metricsHost = try r.string("otpgate.metrics.host", default: "127.0.0.1")
        metricsPort = try r.int("otpgate.metrics.port", default: 9464, in: 0...65535)
        environment = try r.choice("otpgate.env", default: .development, Environment.self)
        masterKey = r.string("otpgate.master.key", isSecret: true)
        masterKeyFile = r.string("otpgate.master.key.file")
        masterKeyPrevious = r.string("otpgate.master.key.previous", isSecret: true)
        delivery = try DeliverySettings(r)
        allowConsoleInProduction = try r.bool("otpgate.allow.console.in.production", default: false)
        issuer = try r.string("otpgate.issuer", default: "otpgate")
        brand = try r.string("otpgate.brand", default: "OTPGate")
        guard brand.count <= 32, !brand.contains(where: \.isNewline) else {
            throw ConfigurationError("OTPGATE_BRAND must be one line of at most 32 characters")
        }
        logLevel = try r.choice("otpgate.log.level", default: .info, Logger.Level.self)
        sqliteSynchronous = try r.choice("otpgate.sqlite.synchronous", default: .full, SQLiteSynchronous.self, caseInsensitive: true).rawValue
        retentionDays = try r.int("otpgate.retention.days", default: 30, in: 1...3650)
        auditRetentionDays = try r.int("otpgate.audit.retention.days", default: 365, in: 1...3650)
        postgresPoolSize = try r.int("otpgate.postgres.pool.size", default: 32, in: 1...1000)
        postgresBatchConcurrency = try r.int("otpgate.postgres.batch.concurrency", default: 2, in: 1...256)
        postgresBatchSize = try r.int("otpgate.postgres.batch.size", default: 64, in: 1...1000)
        postgresTimeout = .seconds(try r.int("otpgate.postgres.timeout.seconds", default: 5, in: 1...600))
        idleTimeout = .seconds(try r.int("otpgate.idle.timeout.seconds", default: 75, in: 1...3600))
        headerTimeout = .seconds(try r.int("otpgate.header.timeout.seconds", default: 10, in: 1...300))
        bodyTimeout = .seconds(try r.int("otpgate.body.timeout.seconds", default: 30, in: 1...600))
        authFailuresPerMinute = try r.int("otpgate.auth.failures.per.minute", default: 20, in: 1...1_000_000)
        do {
            trustedProxies = try TrustedProxies(parsing: r.string("otpgate.trusted.proxies") ?? "")
        } catch {
            throw ConfigurationError("OTPGATE_TRUSTED_PROXIES: \(error)")
        }
        maxConnections = try r.int("otpgate.max.connections", default: 10_000, in: 1...1_000_000)
        profileSessionLifetime = .seconds(try r.int("otpgate.profile.session.seconds", default: 1800, in: 60...86_400))
        let threads = try r.int("otpgate.password.threads", default: 0, in: 0...64)
        passwordThreads = threads == 0 ? nil : threads

        auditing = try r.bool("otpgate.audit", default: true)
        benchBareRoute = try r.bool("otpgate.bench.bare.route", default: false)
        if benchBareRoute && environment == .production {
            throw ConfigurationError("OTPGATE_BENCH_BARE_ROUTE serves an unauthenticated benchmark route: it is refused with OTPGATE_ENV=production")
        }
        var policy = Policy()
        func read(_ name: String, _ value: Int) throws -> Int { try r.int("otpgate.policy." + name, default: value, in: Int.min...Int.max) }
        policy.defaultCodeLength = try read("code.length", policy.defaultCodeLength)
        policy.defaultTTLSeconds = try read("ttl.seconds", policy.defaultTTLSeconds)
        policy.defaultMaxAttempts = try read("max.attempts", policy.defaultMaxAttempts)
        policy.maxSends = try read("max.sends", policy.maxSends)
        policy.resendCooldownSeconds = try read("resend.cooldown.seconds", policy.resendCooldownSeconds)
        policy.startsPerDestination = try read("starts.per.destination", policy.startsPerDestination)
        policy.startWindowSeconds = try read("start.window.seconds", policy.startWindowSeconds)
        policy.failedChecksBeforeLock = try read("failed.checks.before.lock", policy.failedChecksBeforeLock)
        policy.failureWindowSeconds = try read("failure.window.seconds", policy.failureWindowSeconds)
        policy.lockSeconds = try read("lock.seconds", policy.lockSeconds)
        policy.requestsPerKeyPerSecond = try read("requests.per.key.per.second", policy.requestsPerKeyPerSecond)
        policy.tokenTTLSeconds = try read("token.ttl.seconds", policy.tokenTTLSeconds)
        policy.fallbackAfterSeconds = try read("fallback.after.seconds", policy.fallbackAfterSeconds)
        policy.startsPerClientIP = try read("starts.per.client.ip", policy.startsPerClientIP)
        policy.startsPerClientFingerprint = try read("starts.per.client.fingerprint", policy.startsPerClientFingerprint)
        policy.clientWindowSeconds = try read("client.window.seconds", policy.clientWindowSeconds)
        policy.pumpingGuard = try r.bool("otpgate.policy.pumping.guard", default: policy.pumpingGuard)
        policy.pumpingMinSends = try read("pumping.min.sends", policy.pumpingMinSends)
        policy.pumpingMinApprovalPercent = try read("pumping.min.approval.percent", policy.pumpingMinApprovalPercent)
        policy.pumpingHoldSeconds = try read("pumping.hold.seconds", policy.pumpingHoldSeconds)
        func budget(_ name: String) throws -> Int? {
            let value = try r.int("otpgate.policy." + name, default: 0, in: 0...1_000_000_000)
            return value == 0 ? nil : value
        }
        policy.budgets.smsPerDay = try budget("sms.per.day")
        policy.budgets.smsPerMonth = try budget("sms.per.month")
        policy.budgets.emailPerDay = try budget("email.per.day")
        policy.budgets.emailPerMonth = try budget("email.per.month")
        policy.budgets.spendPerDay = try Self.money(r.string("otpgate.policy.spend.per.day"), setting: "OTPGATE_POLICY_SPEND_PER_DAY")
        policy.budgets.spendPerMonth = try Self.money(r.string("otpgate.policy.spend.per.month"), setting: "OTPGATE_POLICY_SPEND_PER_MONTH")
        if let path = r.string("otpgate.price.table") {
            policy.prices = try Self.priceTable(path: path)
        } else if policy.budgets.spendPerDay != nil || policy.budgets.spendPerMonth != nil {
            throw ConfigurationError(
                "OTPGATE_POLICY_SPEND_PER_DAY and _PER_MONTH price messages by OTPGATE_PRICE_TABLE: set it to a price table file")
        }
        if let codes = r.string("otpgate.policy.allowed.countries") {
            policy.allowedCountries = try Self.countryCodes(codes, setting: "OTPGATE_POLICY_ALLOWED_COUNTRIES")
        }
        if let names = r.string("otpgate.policy.fallback.channels") {
            policy.fallbackChannels = try Self.channels(names, setting: "OTPGATE_POLICY_FALLBACK_CHANNELS")
        }
        try Self.validate(policy)
        self.policy = policy
        unrecognizedVariables = variables.keys.filter { $0.hasPrefix("OTPGATE_") && !r.asked.names.contains($0) }.sorted()
        if let file {
            unrecognizedVariables += file.keys.filter { !r.asked.names.contains(SettingReader.variable($0)) }.map { "\($0) (in \(file.path))" }
        }
    }

    public static func validate(_ p: Policy) throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ConfigurationError(message) } }
        try check(Policy.codeLengthRange.contains(p.defaultCodeLength), "OTPGATE_POLICY_CODE_LENGTH must be 4 to 10")
        try check(Policy.ttlRange.contains(p.defaultTTLSeconds), "OTPGATE_POLICY_TTL_SECONDS must be 30 to 600")
        try check(Policy.maxAttemptsRange.contains(p.defaultMaxAttempts), "OTPGATE_POLICY_MAX_ATTEMPTS must be 1 to 10")
        try check((1...10).contains(p.maxSends), "OTPGATE_POLICY_MAX_SENDS must be 1 to 10")
        try check((0...600).contains(p.resendCooldownSeconds), "OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS must be 0 to 600")
        // Upper bounds too: a window or lock of Int.max seconds would overflow the time arithmetic.
        let thirtyDays = 30 * 86_400
        try check((1...10_000).contains(p.startsPerDestination), "OTPGATE_POLICY_STARTS_PER_DESTINATION must be 1 to 10000")
        try check((1...thirtyDays).contains(p.startWindowSeconds), "OTPGATE_POLICY_START_WINDOW_SECONDS must be 1 to 2592000 (30 days)")
        try check(
            (1...Policy.failedChecksCeiling).contains(p.failedChecksBeforeLock),
            "OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK must be 1 to 100 (NIST SP 800-63B)")
        try check(
            (1...thirtyDays).contains(p.failureWindowSeconds) && (1...thirtyDays).contains(p.lockSeconds),
            "OTPGATE_POLICY_FAILURE_WINDOW_SECONDS and OTPGATE_POLICY_LOCK_SECONDS must be 1 to 2592000 (30 days)")
        try check(
            (1...1_000_000).contains(p.requestsPerKeyPerSecond), "OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND must be 1 to 1000000")
        try check(Policy.tokenTTLRange.contains(p.tokenTTLSeconds), "OTPGATE_POLICY_TOKEN_TTL_SECONDS must be 30 to 600")
        try check(Policy.fallbackAfterRange.contains(p.fallbackAfterSeconds), "OTPGATE_POLICY_FALLBACK_AFTER_SECONDS must be 5 to 300")
        try check((1...100_000).contains(p.startsPerClientIP), "OTPGATE_POLICY_STARTS_PER_CLIENT_IP must be 1 to 100000")
        try check(
            (1...100_000).contains(p.startsPerClientFingerprint), "OTPGATE_POLICY_STARTS_PER_CLIENT_FINGERPRINT must be 1 to 100000")
        try check((1...86_400).contains(p.clientWindowSeconds), "OTPGATE_POLICY_CLIENT_WINDOW_SECONDS must be 1 to 86400")
        try check((1...1_000_000).contains(p.pumpingMinSends), "OTPGATE_POLICY_PUMPING_MIN_SENDS must be 1 to 1000000")
        try check((1...100).contains(p.pumpingMinApprovalPercent), "OTPGATE_POLICY_PUMPING_MIN_APPROVAL_PERCENT must be 1 to 100")
        try check(
            (Int(PumpingGuard.bucketSeconds)...86_400).contains(p.pumpingHoldSeconds), "OTPGATE_POLICY_PUMPING_HOLD_SECONDS must be 300 to 86400")
        for limit in [p.budgets.smsPerDay, p.budgets.smsPerMonth, p.budgets.emailPerDay, p.budgets.emailPerMonth].compactMap({ $0 }) {
            try check((1...1_000_000_000).contains(limit), "a send budget must be 1 to 1000000000 messages (0 for none)")
        }
        try check(!p.allowedCountries.isEmpty, "OTPGATE_POLICY_ALLOWED_COUNTRIES must name at least one calling code, or *")
    }

    /// A money budget as a decimal in the price table's currency (`500`, `1250.50`); empty or `0` for none.
    public static func money(_ text: String?, setting: String) throws -> Int64? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        guard let micros = PriceTable.micros(Substring(text)) else {
            throw ConfigurationError("\(setting) must be an amount such as 500 or 1250.50 (at most 6 decimal places)")
        }
        return micros == 0 ? nil : micros
    }

    /// Reads and checks a price table file (`PriceTable`'s format).
    public static func priceTable(path: String) throws -> PriceTable {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError("OTPGATE_PRICE_TABLE: cannot read \(path)")
        }
        do {
            return try PriceTable(parsing: text)
        } catch {
            throw ConfigurationError("OTPGATE_PRICE_TABLE \(path): \(error)")
        }
    }

    /// Comma-separated country calling codes (`91`, `+1`, `44`) or `*` for any.
    public static func countryCodes(_ text: String, setting: String) throws -> [String] {
        var out: [String] = []
        for raw in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !raw.isEmpty {
            let code = raw.hasPrefix("+") ? String(raw.dropFirst()) : raw
            guard code == "*" || (1...3).contains(code.count) && code.allSatisfy(\.isASCII) && code.allSatisfy(\.isNumber) && !code.hasPrefix("0")
            else { throw ConfigurationError("\(setting) must list country calling codes (1 to 3 digits, e.g. 91,1,44) or *") }
            if !out.contains(code) { out.append(code) }
        }
        guard !out.isEmpty else { throw ConfigurationError("\(setting) must list country calling codes (e.g. 91) or *") }
        return out
    }

    /// A comma-separated list of distinct channel names (`email`, `sms`); empty for none.
    public static func channels(_ names: String, setting: String) throws -> [Channel] {
        var out: [Channel] = []
        for name in names.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let channel = Channel(rawValue: name), !out.contains(channel) else {
                throw ConfigurationError("\(setting) must list distinct channels among \(Channel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            out.append(channel)
        }
        return out
    }
}
