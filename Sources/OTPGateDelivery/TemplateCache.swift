public import OTPGateCore
import Synchronization

/// Each tenant's templates, read from the store at most once per `ttl` (by the injected clock): templates change
/// rarely, and a message must not wait on a query. A template saved on any instance is used everywhere within `ttl`.
public final class TemplateCache: Sendable {
    let store: any TemplateStore
    let clock: any Clock
    let ttl: Duration
    private let entries = Mutex<[String: (templates: [MessageTemplate], until: Timestamp)]>([:])

    public init(store: any TemplateStore, clock: any Clock, ttl: Duration = .seconds(5)) {
        self.store = store
        self.clock = clock
        self.ttl = ttl
    }

    /// The tenant's templates; on a store error, the last ones read (or none: the built-in wording).
    func templates(tenantID: String) async -> [MessageTemplate] {
        let now = clock.now()
        let cached = entries.withLock { $0[tenantID] }
        if let cached, cached.until > now { return cached.templates }
        guard let fresh = try? await store.templates(tenantID: tenantID) else { return cached?.templates ?? [] }
        entries.withLock { entries in
            // Bounded: a deployment with more tenants than this re-reads, which is correct, only slower.
            if entries.count > 10_000 { entries.removeAll() }
            entries[tenantID] = (fresh, now + ttl)
        }
        return fresh
    }
}
