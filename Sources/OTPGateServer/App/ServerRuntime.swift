public import Hummingbird
import Logging
public import OTPGateCore
public import OTPGateDelivery
public import OTPGateNativeAPI
public import OTPGateObservability
import OTPGatePostgres
public import OTPGateProfiles
import OTPGateSQLite
import OTPGateTokens
import ServiceLifecycle

/// A fully wired OTPGate: store, secrets, engine, HTTP router and background services.
public struct ServerRuntime: Sendable {
    public let settings: ServerSettings
    public let store: any Store
    public let engine: VerificationEngine
    public let metrics: ServerMetrics
    public let signer: any TokenSigner
    /// The sender of each channel; a channel without one is refused (`channel_unavailable`).
    public let routes: DeliveryRoutes
    public let outboxWorker: OutboxWorker
    public let sweeper: Sweeper
    public let webhookDispatcher: WebhookDispatcher
    public let auditLinker: AuditLinker
    public let api: NativeAPI
    /// The vendor-compatible APIs, served beside the native one.
    public let profiles: ProfileServices
    let dependencies: ServerDependencies

    /// The store the settings name, not yet migrated. A PostgreSQL store is also a `Service` (its connection pool)
    /// that must run while it is used: `serve` runs it in its `ServiceGroup`, commands use `StoreRunner`.
    public static func openStore(_ settings: ServerSettings) throws -> any Store {
        let store: any Store
        switch settings.database {
        case .sqlite(let path):
            store = try SQLiteStore(path: path, synchronous: settings.sqliteSynchronous)
        case .postgres(let url):
            store = try PostgresStore(
                url: url, poolSize: settings.postgresPoolSize,
                batching: PostgresBatching(maxBatch: settings.postgresBatchSize, concurrentBatches: settings.postgresBatchConcurrency),
                timeout: settings.postgresTimeout)
        }
        return store
    }

    /// Loads (or on first start creates) the shared secrets and wires the engine.
    public static func make(settings: ServerSettings, store: any Store, dependencies: ServerDependencies = ServerDependencies()) async throws
        -> ServerRuntime
    {
        let routes = try dependencies.sender.map { DeliveryRoutes(every: $0) } ?? DeliverySetup.routes(settings, clock: dependencies.clock)
        let master = try MasterKey.ring(settings: settings, random: dependencies.random)
        let now = dependencies.clock.now()
        // The code-hashing secret and the data key are shared by every instance: the first to start writes them.
        let codeSecret = try await SharedSecret.load(SharedSecret.codeKey, store: store, master: master, random: dependencies.random, now: now)
        let dataKey = try await SharedSecret.load(SharedSecret.dataKey, store: store, master: master, random: dependencies.random, now: now)
        let cipher = PersonalDataCipher(dataKey: dataKey)
        // A database written before encryption at rest: seal what it still holds in clear.
        try await PersonalDataUpgrade.run(store: store, cipher: cipher)
        let signer = try await JWTTokenSigner.load(store: store, master: master, clock: dependencies.clock)
        let metrics = ServerMetrics()
        // Only a process that runs the worker hands messages to it; others leave them to the workers that claim them from the store.
        let local = LocalDeliveryQueue(lease: settings.delivery.lease)
        let engine = VerificationEngine(
            store: store, tokenLedger: store, clock: dependencies.clock, random: dependencies.random, hasher: CodeHasher(secret: codeSecret),
            cipher: cipher, signer: signer, defaultPolicy: settings.policy, issuer: settings.issuer,
            observer: EngineEventLog(metrics: metrics, logger: dependencies.logger),
            localDelivery: dependencies.runBackgroundServices ? local : nil, servedChannels: routes.servedChannels,
            production: settings.environment == .production, auditing: settings.auditing)
        var worker = OutboxWorker(
            store: store, routes: routes, cipher: cipher, renderer: MessageRenderer(brand: settings.brand), clock: dependencies.clock,
            random: dependencies.random,
            metrics: metrics, local: local, logger: dependencies.logger, templates: TemplateCache(store: store, clock: dependencies.clock))
        worker.maxIdle = settings.outboxMaxIdle
        worker.maxAttempts = settings.delivery.maxAttempts
        worker.lease = settings.delivery.lease
        worker.builtInDLTTemplateID = settings.delivery.dlt.templateID
        // Tenants' own gateways and DLT registrations, unless a development sender (or a test's) takes every message.
        if dependencies.sender == nil && settings.delivery.forced == nil && routes.sender(for: .sms) != nil {
            let delivery = settings.delivery
            let clock = dependencies.clock
            worker.tenantSenders = TenantSenders(store: store, cipher: cipher, clock: clock, logger: dependencies.logger) { tenant in
                try DeliverySetup.tenantSMSSender(tenant, deployment: delivery, clock: clock)
            }
        }
        let sweeper = Sweeper(
            store: store, clock: dependencies.clock, metrics: metrics, logger: dependencies.logger, interval: settings.sweepInterval,
            retention: .seconds(Int64(settings.retentionDays) * 86_400), auditRetention: .seconds(Int64(settings.auditRetentionDays) * 86_400))
        let profiles = ProfileServices(
            engine: engine, records: RecordBook(store: store, cipher: cipher), sessions: store, nonces: store,
            passwords: PasswordCheckPool(threads: settings.passwordThreads), sessionLifetime: settings.profileSessionLifetime)
        return ServerRuntime(
            settings: settings, store: store, engine: engine, metrics: metrics, signer: signer, routes: routes, outboxWorker: worker,
            sweeper: sweeper,
            webhookDispatcher: WebhookDispatcher(store: store, cipher: cipher, clock: dependencies.clock, logger: dependencies.logger),
            auditLinker: AuditLinker(store: store, signer: signer, clock: dependencies.clock, logger: dependencies.logger),
            api: NativeAPI(
                engine: engine, tenants: store, deliveries: store, counters: store, health: store, signer: signer, metrics: metrics,
                principalCacheTTL: settings.principalCacheTTL, authFailuresPerMinute: settings.authFailuresPerMinute,
                trustedProxies: settings.trustedProxies, clock: dependencies.clock,
                reportReaders: try DeliverySetup.reportReaders(settings.delivery), reportStore: store, templates: store, brand: settings.brand,
                webhooks: store, allowHTTPWebhooks: settings.environment != .production),
            profiles: profiles, dependencies: dependencies)
    }

    /// How the connection to PostgreSQL is protected, for the start-up line (`nil` on SQLite).
    public var databaseSecurity: String? { (store as? PostgresStore)?.transportSecurity.description }

    /// SQLite's `synchronous` mode as the committing connection has it, for the start-up line (`nil` on PostgreSQL).
    public func sqliteSynchronous() async throws -> String? { try await (store as? SQLiteStore)?.committedSynchronous() }

    /// The router with every route and middleware: the native API and the vendor profiles.
    public func buildRouter() -> Router<AppRequestContext> {
        api.buildRouter(profiles: Profiles.all(profiles), bareRoute: settings.benchBareRoute)
    }

    /// The HTTP application with the outbox worker and sweeper as services, stopped gracefully on SIGINT/SIGTERM.
    public func buildApplication() -> some ApplicationProtocol {
        var services: [any Service] = []
        if dependencies.runBackgroundServices {
            services.append(outboxWorker)
            services.append(sweeper)
            services.append(webhookDispatcher)
            if settings.auditing { services.append(auditLinker) }
        }
        if let signer = signer as? JWTTokenSigner { services.append(SigningKeyRefresher(signer: signer, logger: dependencies.logger)) }
        // Slow clients are cut off and open connections capped on both listeners, each with a cap of its own.
        let limits = ConnectionLimits(settings)
        // Metrics on their own listener, never on the public port; its log lines say `otpgate.metrics`.
        var metricsLogger = Logger(label: "otpgate.metrics")
        metricsLogger.logLevel = dependencies.logger.logLevel
        services.append(
            Application(
                router: MetricsListener.router(metrics: metrics),
                server: .guardedHTTP1(limits, logger: metricsLogger),
                configuration: ApplicationConfiguration(
                    address: .hostname(settings.metricsHost, port: settings.metricsPort), serverName: "otpgate-metrics"),
                logger: metricsLogger))
        return Application(
            router: buildRouter(),
            server: .guardedHTTP1(limits, logger: dependencies.logger),
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "otpgate"),
            services: services, logger: dependencies.logger)
    }

    /// The (method, path) pairs the router serves, as OpenAPI spells them.
    package var registeredRoutes: [RouteTable.Route] { api.registeredRoutes }
}
