import Foundation
public import OTPGateCore

/// Tenant and key administration, shared by the CLI and the first-start bootstrap.
public struct TenantAdmin: Sendable {
    public let store: any TenantStore & SecretStore
    public let clock: any Clock
    public let random: any RandomSource
    /// Who makes the changes, for the audit log (nil with auditing off).
    public let audit: AuditActor?

    public init(
        store: any TenantStore & SecretStore, clock: any Clock = SystemClock(), random: any RandomSource = SystemRandomSource(),
        audit: AuditActor? = nil
    ) {
        self.store = store
        self.clock = clock
        self.random = random
        self.audit = audit
    }

    /// A new key for a tenant: the record to store and the secret to show once.
    func newKey(tenantID: String) -> (record: APIKeyRecord, secret: String) {
        let secret = APIKey.generate(random: random)
        let record = APIKeyRecord(
            id: Identifier.make("key", random: random), tenantID: tenantID, hash: APIKey.hash(secret),
            prefix: APIKey.displayPrefix(secret), createdAt: clock.now())
        return (record, secret)
    }

    /// Creates a tenant with its first API key; the key is returned once and stored only as a hash.
    public func createTenant(name: String) async throws -> (tenant: Tenant, keyID: String, apiKey: String) {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard (1...100).contains(trimmed.count), trimmed.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw ConfigurationError("a tenant name must be 1 to 100 printable characters")
        }
        let tenant = Tenant(id: Identifier.make("ten", random: random), name: trimmed, createdAt: clock.now())
        let key = newKey(tenantID: tenant.id)
        let entry = audit?.entry(
            AuditAction.tenantCreated, tenantID: tenant.id, subject: tenant.id, at: tenant.createdAt,
            detail: ["name": .string(tenant.name), "key_id": .string(key.record.id), "key_prefix": .string(key.record.prefix)])
        try await store.createTenant(tenant, firstKey: key.record, audit: entry)
        return (tenant, key.record.id, key.secret)
    }

    public func createKey(tenantID: String) async throws -> (keyID: String, apiKey: String) {
        guard try await store.tenant(id: tenantID) != nil else { throw ConfigurationError("no tenant \(tenantID)") }
        let key = newKey(tenantID: tenantID)
        try await store.createAPIKey(
            key.record,
            audit: audit?.entry(
                AuditAction.keyCreated, tenantID: tenantID, subject: key.record.id, at: key.record.createdAt,
                detail: ["key_prefix": .string(key.record.prefix)]))
        return (key.record.id, key.secret)
    }

    /// Revokes a key or credential; whether there was an active one.
    public func revokeKey(id: String, credential: Bool = false) async throws -> Bool {
        let now = clock.now()
        // The store records the entry under the key's tenant.
        return try await store.revokeAPIKey(
            id: id, at: now,
            audit: audit?.entry(credential ? AuditAction.credentialRevoked : AuditAction.keyRevoked, tenantID: "", subject: id, at: now))
    }

    /// On an empty database, creates tenant `default`; several instances starting at once create it once.
    public func bootstrapDefaultTenant() async throws -> (tenant: Tenant, apiKey: String)? {
        guard try await store.tenants().isEmpty else { return nil }
        let marker = random.bytes(16)
        let winner = try await store.insertSecretIfAbsent(name: "bootstrap:default-tenant", value: marker, createdAt: clock.now())
        guard winner == marker else { return nil }
        let created = try await createTenant(name: "default")
        return (created.tenant, created.apiKey)
    }
}
