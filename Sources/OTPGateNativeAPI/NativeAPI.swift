public import Hummingbird
public import OTPGateCore
public import OTPGateObservability

/// The native HTTP API as one router: operational endpoints, then `/v1` behind API-key authentication, all behind
/// the observability middleware. The application builds it from the engine and the ports it needs.
public struct NativeAPI: Sendable {
    let engine: VerificationEngine
    let tenants: any TenantStore
    let deliveries: any VerificationQueries
    let reports: DeliveryReportController
    let templates: any TemplateStore
    let webhooks: any WebhookStore
    let allowHTTPWebhooks: Bool
    let brand: String
    let health: any StoreLifecycle
    let signer: any TokenSigner
    let metrics: ServerMetrics
    let principalCache: PrincipalCache
    let failures: FailedAuthenticationLimiter
    let proxies: TrustedProxies
    let routes = RouteTable()

    /// - Parameters:
    ///   - principalCacheTTL: how long an API key's tenant and policy are cached (by `clock`).
    ///   - authFailuresPerMinute: invalid API keys a client address may present per minute before it gets 429s.
    ///   - trustedProxies: the peers whose `X-Forwarded-For` names the client.
    public init(
        engine: VerificationEngine, tenants: any TenantStore, deliveries: any VerificationQueries, counters: any RequestCounters,
        health: any StoreLifecycle,
        signer: any TokenSigner, metrics: ServerMetrics, principalCacheTTL: Duration, authFailuresPerMinute: Int,
        trustedProxies: TrustedProxies, clock: any Clock, reportReaders: [any DeliveryReportReader] = [],
        reportStore: any DeliveryReportStore, templates: any TemplateStore, brand: String = "OTPGate", webhooks: any WebhookStore,
        allowHTTPWebhooks: Bool
    ) {
        self.webhooks = webhooks
        self.allowHTTPWebhooks = allowHTTPWebhooks
        self.templates = templates
        self.brand = brand
        self.reports = DeliveryReportController(
            readers: Dictionary(reportReaders.map { ($0.provider, $0) }, uniquingKeysWith: { $1 }), store: reportStore, clock: clock)
        self.failures = FailedAuthenticationLimiter(counters: counters, cipher: engine.cipher, clock: clock, limitPerMinute: authFailuresPerMinute)
        self.proxies = trustedProxies
        self.engine = engine
        self.tenants = tenants
        self.deliveries = deliveries
        self.health = health
        self.signer = signer
        self.metrics = metrics
        self.principalCache = PrincipalCache(ttl: principalCacheTTL, clock: clock)
    }

    /// The router with every route and middleware, and the vendor profiles' routes under their prefixes.
    /// - Parameter bareRoute: also serve the benchmark's `POST /bench/bare` (`BareRouteController`).
    public func buildRouter(profiles: [any CompatProfile] = [], bareRoute: Bool = false) -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ObservabilityMiddleware(metrics: metrics, profiles: profiles))
        if bareRoute { BareRouteController().addRoutes(to: router) }
        let authentication = ProfileAuthentication(store: tenants, cache: principalCache, failures: failures, proxies: proxies)
        for profile in profiles { profile.addRoutes(to: router, authentication: authentication) }
        OpsController(store: health, signer: signer, metrics: metrics).addRoutes(to: router, routes: routes)
        reports.addRoutes(to: router, routes: routes)
        let api = router.group("v1").add(middleware: APIKeyAuthenticator(store: tenants, cache: principalCache, failures: failures, proxies: proxies))
        VerificationController(engine: engine, deliveries: deliveries, defaultCountryCode: "91").addRoutes(to: api, routes: routes)
        TokenController(engine: engine).addRoutes(to: api, routes: routes)
        TemplateController(engine: engine, store: templates, brand: brand).addRoutes(to: api, routes: routes)
        WebhookController(engine: engine, store: webhooks, allowHTTP: allowHTTPWebhooks).addRoutes(to: api, routes: routes)
        AbuseController(engine: engine).addRoutes(to: api, routes: routes)
        if let audit = engine.store as? any AuditStore { AuditController(engine: engine, store: audit).addRoutes(to: api, routes: routes) }
        for route in profiles.flatMap(\.nativeRoutes) { routes.add(route.method, api, route.path, route.handler) }
        return router
    }

    /// The (method, path) pairs the router serves, as OpenAPI spells them (after `buildRouter()`).
    package var registeredRoutes: [RouteTable.Route] { routes.all }
}
