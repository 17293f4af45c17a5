import Configuration
public import Logging
public import OTPGateCore

/// Everything `otpgate` reads from its environment, with safe defaults. Command-line flags override these.
///
/// Configuration keys (environment variable in brackets):
/// - `otpgate.database.url` (`OTPGATE_DATABASE_URL`, default `sqlite:otpgate.sqlite`)
/// - `otpgate.host`, `otpgate.port` (`OTPGATE_HOST`, `OTPGATE_PORT`, default 127.0.0.1:8080)
/// - `otpgate.env` (`OTPGATE_ENV`: `development` or `production`, default development)
/// - `otpgate.master.key` (`OTPGATE_MASTER_KEY`, secret: 32 bytes as base64 or 64 hex digits)
/// - `otpgate.master.key.file` (`OTPGATE_MASTER_KEY_FILE`, default: `<database>.master-key` beside a SQLite file)
/// - `otpgate.delivery` (`OTPGATE_DELIVERY`: `console` or `discard`, default console)
/// - `otpgate.allow.console.in.production` (`OTPGATE_ALLOW_CONSOLE_IN_PRODUCTION`, default false)
/// - `otpgate.issuer` (`OTPGATE_ISSUER`, default `otpgate`): the `iss` of verification tokens
/// - `otpgate.log.level` (`OTPGATE_LOG_LEVEL`, default info)
/// - `otpgate.sqlite.synchronous` (`OTPGATE_SQLITE_SYNCHRONOUS`: FULL or NORMAL, default FULL)
/// - `otpgate.retention.days` (`OTPGATE_RETENTION_DAYS`, default 30): how long finished rows are kept
/// - `otpgate.policy.*` (`OTPGATE_POLICY_*`): default limits, see `Policy`
public struct ServerSettings: Sendable {
    public enum Environment: String, Sendable { case development, production }
    public enum Delivery: String, Sendable { case console, discard }

    public var database: DatabaseURL
    public var host: String
    public var port: Int
    public var environment: Environment
    public var masterKey: String?
    public var masterKeyFile: String?
    public var delivery: Delivery
    public var allowConsoleInProduction: Bool
    public var issuer: String
    public var logLevel: Logger.Level
    public var sqliteSynchronous: String
    /// Connections each instance keeps to PostgreSQL at most (`OTPGATE_POSTGRES_POOL_SIZE`, default 32).
    public var postgresPoolSize: Int
    /// Starts and checks each run at most this many transactions at once per instance
    /// (`OTPGATE_POSTGRES_BATCH_CONCURRENCY`, default 2); concurrent requests beyond share them.
    public var postgresBatchConcurrency: Int
    /// Requests one such transaction carries at most (`OTPGATE_POSTGRES_BATCH_SIZE`, default 64).
    public var postgresBatchSize: Int
    public var retentionDays: Int
    public var policy: Policy
    public var outboxPollInterval: Duration = .milliseconds(500)
    public var sweepInterval: Duration = .seconds(30)
    public var maxDeliveryAttempts = 5
    /// Tenants' API keys and settings are cached this long; a revoked key stops working within it.
    public var principalCacheTTL: Duration = .seconds(5)

    /// Reads settings from the process environment (or the given variables, for tests).
    public init(environment variables: [String: String]) throws {
        let reader = ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: variables))
        database = try DatabaseURL(parsing: reader.string(forKey: "otpgate.database.url", default: "sqlite:otpgate.sqlite"))
        host = reader.string(forKey: "otpgate.host", default: "127.0.0.1")
        port = reader.int(forKey: "otpgate.port", default: 8080)
        let env = reader.string(forKey: "otpgate.env", default: "development")
        guard let parsedEnv = Environment(rawValue: env) else { throw ConfigurationError("OTPGATE_ENV must be development or production") }
        environment = parsedEnv
        masterKey = reader.string(forKey: "otpgate.master.key", isSecret: true)
        masterKeyFile = reader.string(forKey: "otpgate.master.key.file")
        let delivery = reader.string(forKey: "otpgate.delivery", default: "console")
        guard let parsedDelivery = Delivery(rawValue: delivery) else { throw ConfigurationError("OTPGATE_DELIVERY must be console or discard") }
        self.delivery = parsedDelivery
        allowConsoleInProduction = reader.bool(forKey: "otpgate.allow.console.in.production", default: false)
        issuer = reader.string(forKey: "otpgate.issuer", default: "otpgate")
        let level = reader.string(forKey: "otpgate.log.level", default: "info")
        guard let parsedLevel = Logger.Level(rawValue: level) else { throw ConfigurationError("OTPGATE_LOG_LEVEL must be trace, debug, info, notice, warning, error or critical") }
        logLevel = parsedLevel
        sqliteSynchronous = reader.string(forKey: "otpgate.sqlite.synchronous", default: "FULL")
        retentionDays = reader.int(forKey: "otpgate.retention.days", default: 30)
        postgresPoolSize = reader.int(forKey: "otpgate.postgres.pool.size", default: 32)
        guard (1...1000).contains(postgresPoolSize) else { throw ConfigurationError("OTPGATE_POSTGRES_POOL_SIZE must be 1 to 1000") }
        postgresBatchConcurrency = reader.int(forKey: "otpgate.postgres.batch.concurrency", default: 2)
        guard (1...256).contains(postgresBatchConcurrency) else { throw ConfigurationError("OTPGATE_POSTGRES_BATCH_CONCURRENCY must be 1 to 256") }
        postgresBatchSize = reader.int(forKey: "otpgate.postgres.batch.size", default: 64)
        guard (1...1000).contains(postgresBatchSize) else { throw ConfigurationError("OTPGATE_POSTGRES_BATCH_SIZE must be 1 to 1000") }

        var policy = Policy()
        let p = reader.scoped(to: "otpgate.policy")
        policy.defaultCodeLength = p.int(forKey: "code.length", default: policy.defaultCodeLength)
        policy.defaultTTLSeconds = p.int(forKey: "ttl.seconds", default: policy.defaultTTLSeconds)
        policy.defaultMaxAttempts = p.int(forKey: "max.attempts", default: policy.defaultMaxAttempts)
        policy.maxSends = p.int(forKey: "max.sends", default: policy.maxSends)
        policy.resendCooldownSeconds = p.int(forKey: "resend.cooldown.seconds", default: policy.resendCooldownSeconds)
        policy.startsPerDestination = p.int(forKey: "starts.per.destination", default: policy.startsPerDestination)
        policy.startWindowSeconds = p.int(forKey: "start.window.seconds", default: policy.startWindowSeconds)
        policy.failedChecksBeforeLock = p.int(forKey: "failed.checks.before.lock", default: policy.failedChecksBeforeLock)
        policy.failureWindowSeconds = p.int(forKey: "failure.window.seconds", default: policy.failureWindowSeconds)
        policy.lockSeconds = p.int(forKey: "lock.seconds", default: policy.lockSeconds)
        policy.requestsPerKeyPerSecond = p.int(forKey: "requests.per.key.per.second", default: policy.requestsPerKeyPerSecond)
        policy.tokenTTLSeconds = p.int(forKey: "token.ttl.seconds", default: policy.tokenTTLSeconds)
        try Self.validate(policy)
        self.policy = policy
    }

    public static func validate(_ p: Policy) throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ConfigurationError(message) } }
        try check(Policy.codeLengthRange.contains(p.defaultCodeLength), "OTPGATE_POLICY_CODE_LENGTH must be 4 to 10")
        try check(Policy.ttlRange.contains(p.defaultTTLSeconds), "OTPGATE_POLICY_TTL_SECONDS must be 30 to 600")
        try check(Policy.maxAttemptsRange.contains(p.defaultMaxAttempts), "OTPGATE_POLICY_MAX_ATTEMPTS must be 1 to 10")
        try check((1...10).contains(p.maxSends), "OTPGATE_POLICY_MAX_SENDS must be 1 to 10")
        try check((0...600).contains(p.resendCooldownSeconds), "OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS must be 0 to 600")
        try check(p.startsPerDestination >= 1, "OTPGATE_POLICY_STARTS_PER_DESTINATION must be at least 1")
        try check(p.startWindowSeconds >= 1, "OTPGATE_POLICY_START_WINDOW_SECONDS must be at least 1")
        try check((1...Policy.failedChecksCeiling).contains(p.failedChecksBeforeLock), "OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK must be 1 to 100 (NIST SP 800-63B)")
        try check(p.failureWindowSeconds >= 1 && p.lockSeconds >= 1, "OTPGATE_POLICY_FAILURE_WINDOW_SECONDS and OTPGATE_POLICY_LOCK_SECONDS must be at least 1")
        try check(p.requestsPerKeyPerSecond >= 1, "OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND must be at least 1")
        try check(Policy.tokenTTLRange.contains(p.tokenTTLSeconds), "OTPGATE_POLICY_TOKEN_TTL_SECONDS must be 30 to 600")
    }
}
