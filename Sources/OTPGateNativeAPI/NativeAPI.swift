public import Hummingbird
public import OTPGateCore
public import OTPGateObservability

/// The native HTTP API as one router: operational endpoints, then `/v1` behind API-key authentication, all behind
/// the observability middleware. The application builds it from the engine and the ports it needs.
public struct NativeAPI: Sendable {
    let engine: VerificationEngine
    let tenants: any TenantStore
    let health: any StoreLifecycle
    let signer: any TokenSigner
    let metrics: ServerMetrics
    let principalCache: PrincipalCache
    let routes = RouteTable()

    /// - Parameter principalCacheTTL: how long an API key's tenant and policy are cached (by `clock`).
    public init(
        engine: VerificationEngine, tenants: any TenantStore, health: any StoreLifecycle, signer: any TokenSigner, metrics: ServerMetrics,
        principalCacheTTL: Duration, clock: any Clock
    ) {
        self.engine = engine
        self.tenants = tenants
        self.health = health
        self.signer = signer
        self.metrics = metrics
        self.principalCache = PrincipalCache(ttl: principalCacheTTL, clock: clock)
    }

    /// The router with every route and middleware.
    public func buildRouter() -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ObservabilityMiddleware(metrics: metrics))
        OpsController(store: health, signer: signer, metrics: metrics).addRoutes(to: router, routes: routes)
        let api = router.group("v1").add(middleware: APIKeyAuthenticator(store: tenants, cache: principalCache))
        VerificationController(engine: engine, defaultCountryCode: "91").addRoutes(to: api, routes: routes)
        TokenController(engine: engine).addRoutes(to: api, routes: routes)
        return router
    }

    /// The (method, path) pairs the router serves, as OpenAPI spells them (after `buildRouter()`).
    package var registeredRoutes: [RouteTable.Route] { routes.all }
}
