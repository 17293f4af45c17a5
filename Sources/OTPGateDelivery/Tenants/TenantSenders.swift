public import Logging
public import OTPGateCore
import Synchronization

/// The SMS sender of each tenant that has delivery settings of its own (`TenantDeliverySettings`), built by `make`
/// (which knows the deployment's gateway) and read from the store at most once per `ttl`: settings saved on any
/// instance are used everywhere within `ttl`. A tenant without settings uses the deployment's routes.
public final class TenantSenders: Sendable {
    public struct Route: Sendable {
        public var sender: any MessageSender
        /// The content template id the built-in text is registered under for this tenant.
        public var builtInDLTTemplateID: String?
    }

    let store: any TenantDeliveryStore
    let cipher: PersonalDataCipher
    let clock: any Clock
    let ttl: Duration
    let make: @Sendable (TenantDeliverySettings) throws -> any MessageSender
    let logger: Logger
    private let entries = Mutex<[String: (route: Route?, until: Timestamp)]>([:])

    public init(
        store: any TenantDeliveryStore, cipher: PersonalDataCipher, clock: any Clock, ttl: Duration = .seconds(5),
        logger: Logger = Logger(label: "otpgate.delivery"), make: @escaping @Sendable (TenantDeliverySettings) throws -> any MessageSender
    ) {
        self.logger = logger
        self.store = store
        self.cipher = cipher
        self.clock = clock
        self.ttl = ttl
        self.make = make
    }

    /// The tenant's own SMS route, or `nil` for the deployment's. On a store error, the last route read.
    func smsRoute(tenantID: String) async -> Route? {
        let now = clock.now()
        let cached = entries.withLock { $0[tenantID] }
        if let cached, cached.until > now { return cached.route }
        let sealed: [UInt8]?
        do {
            sealed = try await store.tenantDelivery(tenantID: tenantID)
        } catch {
            return cached?.route
        }
        var route: Route?
        if let sealed {
            do {
                let settings = try TenantDeliverySettings.open(sealed, with: cipher, tenantID: tenantID)
                route = Route(sender: try make(settings), builtInDLTTemplateID: settings.dlt.templateID)
            } catch {
                // Never the deployment's gateway under the deployment's registration instead: the tenant's SMS waits
                // (retried) on its last good route, or on none, until its settings are fixed.
                logger.error("tenant delivery settings unusable", metadata: ["tenant_id": .string(tenantID), "error": .string("\(type(of: error))")])
                route = cached?.route ?? Route(sender: UnusableTenantSender(), builtInDLTTemplateID: nil)
            }
        }
        entries.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[tenantID] = (route, now + ttl)
        }
        return route
    }
}

/// Stands for a tenant whose own delivery settings do not open or build: every attempt fails, to be retried.
struct UnusableTenantSender: MessageSender {
    let name = "tenant-settings"
    func send(_ message: OutgoingMessage) async throws -> SendReceipt {
        throw DeliveryError.retryable("the tenant's delivery settings are unusable (otpgate tenant delivery)")
    }
}
