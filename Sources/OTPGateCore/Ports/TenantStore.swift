/// Tenants, their policies and their API keys; authentication reads `principal(forKeyHash:)`. Each change takes its
/// audit entry (nil with auditing off), written in the change's own transaction and only if something changed.
public protocol TenantStore: Sendable {
    func createTenant(_ tenant: Tenant, firstKey: APIKeyRecord, audit: AuditEntry?) async throws
    func tenants() async throws -> [Tenant]
    func tenant(id: String) async throws -> Tenant?
    func updateTenantPolicy(id: String, overrides: PolicyOverrides, audit: AuditEntry?) async throws -> Bool
    /// Replaces the tenant's test destinations (`TestDestination.jsonText`); false if there is no such tenant.
    func updateTenantTestDestinations(id: String, _ destinations: [String: TestDestination], audit: AuditEntry?) async throws -> Bool
    func createAPIKey(_ key: APIKeyRecord, audit: AuditEntry?) async throws
    func apiKeys(tenantID: String) async throws -> [APIKeyRecord]
    /// Marks a key revoked; `false` if no such key or already revoked. The entry is recorded under the key's tenant.
    func revokeAPIKey(id: String, at: Timestamp, audit: AuditEntry?) async throws -> Bool
    /// The tenant and key id for an unrevoked key with this hash.
    func principal(forKeyHash hash: [UInt8]) async throws -> Principal?
    /// The tenant of an unrevoked key or credential, by its id (a vendor token naming its credential).
    func principal(forKeyID id: String) async throws -> Principal?
}

/// A signed request as its replay guard records it: a keyed digest of everything it says, kept until its timestamp
/// leaves the accepted window.
public struct RequestNonce: Sendable, Equatable {
    public var tenantID: String
    public var digest: String
    public var expiresAt: Timestamp

    public init(tenantID: String, digest: String, expiresAt: Timestamp) {
        self.tenantID = tenantID
        self.digest = digest
        self.expiresAt = expiresAt
    }
}

/// The signed requests already seen, so that one replayed inside its timestamp's window is refused on any instance.
public protocol RequestNonceStore: Sendable {
    /// Records `digest` for the tenant until `expiresAt`; `false` if it is recorded already and not yet expired at `now`.
    func claimRequestNonce(tenantID: String, digest: String, now: Timestamp, expiresAt: Timestamp) async throws -> Bool
}
