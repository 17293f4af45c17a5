public import OTPGateCore

/// Adds, removes and lists a tenant's test destinations (`TestDestination`) for `otpgate tenant test-destination`.
/// Running servers see a change within the API-key cache's lifetime (the list travels with the tenant's row).
public struct TestDestinationAdmin: Sendable {
    public let store: any TenantStore
    public let cipher: PersonalDataCipher
    /// On a production deployment a test destination must be allowed there explicitly.
    public let production: Bool
    /// Who makes the changes, for the audit log (nil with auditing off).
    public let audit: AuditActor?

    public init(store: any TenantStore, cipher: PersonalDataCipher, production: Bool, audit: AuditActor? = nil) {
        self.store = store
        self.cipher = cipher
        self.production = production
        self.audit = audit
    }

    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Adds (or replaces) `destination` with its fixed `code`; returns the masked destination.
    public func add(tenantID: String, destination: Destination, code: String, allowInProduction: Bool, now: Timestamp) async throws -> String {
        guard TestDestination.isValidCode(code) else { throw Refusal(description: "the code must be 4 to 10 digits") }
        if production && !allowInProduction {
            throw Refusal(description: "OTPGATE_ENV=production: a test destination works here only with --allow-in-production")
        }
        guard var tenant = try await store.tenant(id: tenantID) else { throw Refusal(description: "no tenant \(tenantID)") }
        let key = cipher.destinationKey(destination, tenantID: tenantID)
        tenant.testDestinations[key] = TestDestination(
            channel: destination.channel, masked: destination.masked,
            sealedCode: try TestDestination.seal(code: code, key: key, tenantID: tenantID, with: cipher), allowedInProduction: allowInProduction,
            createdAt: now)
        _ = try await store.updateTenantTestDestinations(
            id: tenantID, tenant.testDestinations,
            audit: audit?.entry(
                AuditAction.testDestinationAdded, tenantID: tenantID, subject: destination.masked, at: now, masked: destination.masked,
                detail: ["allowed_in_production": .bool(allowInProduction)]))
        return destination.masked
    }

    /// Whether there was one to remove.
    public func remove(tenantID: String, destination: Destination, now: Timestamp) async throws -> Bool {
        guard var tenant = try await store.tenant(id: tenantID) else { throw Refusal(description: "no tenant \(tenantID)") }
        guard tenant.testDestinations.removeValue(forKey: cipher.destinationKey(destination, tenantID: tenantID)) != nil else { return false }
        return try await store.updateTenantTestDestinations(
            id: tenantID, tenant.testDestinations,
            audit: audit?.entry(
                AuditAction.testDestinationRemoved, tenantID: tenantID, subject: destination.masked, at: now,
                masked: destination.masked))
    }

    /// The tenant's test destinations, masked, oldest first.
    public func list(tenantID: String) async throws -> [TestDestination] {
        guard let tenant = try await store.tenant(id: tenantID) else { throw Refusal(description: "no tenant \(tenantID)") }
        return tenant.testDestinations.values.sorted { ($0.createdAt, $0.masked) < ($1.createdAt, $1.masked) }
    }
}
