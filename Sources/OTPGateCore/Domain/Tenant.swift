/// A customer of the deployment. Everything a tenant owns (verifications, keys, tokens, limits) is scoped by its id.
public struct Tenant: Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Timestamp
    /// Per-tenant overrides of the server's default policy; `nil` fields fall back to the defaults.
    public var policy: PolicyOverrides
    /// Destinations with fixed codes, never delivered, by blind index (`TestDestination`).
    public var testDestinations: [String: TestDestination]

    public init(
        id: String, name: String, createdAt: Timestamp, policy: PolicyOverrides = PolicyOverrides(),
        testDestinations: [String: TestDestination] = [:]
    ) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.policy = policy
        self.testDestinations = testDestinations
    }
}

/// An API key as stored: only the SHA-256 of the secret, plus a short non-secret prefix for listings.
public struct APIKeyRecord: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var hash: [UInt8]
    public var prefix: String
    public var createdAt: Timestamp
    public var revokedAt: Timestamp?
    /// The vendor profile a credential serves (`surepass`, `kwikid` …); `nil` for a native API key. Each works only on
    /// its own API.
    public var profile: String?
    /// The credential's profile settings (`CredentialSettings`), sealed under the credential id; empty for none.
    public var sealedSettings: [UInt8]

    public init(
        id: String, tenantID: String, hash: [UInt8], prefix: String, createdAt: Timestamp, revokedAt: Timestamp? = nil, profile: String? = nil,
        sealedSettings: [UInt8] = []
    ) {
        self.profile = profile
        self.sealedSettings = sealedSettings
        self.id = id
        self.tenantID = tenantID
        self.hash = hash
        self.prefix = prefix
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// What a valid API key resolves to.
public struct Principal: Sendable, Equatable {
    public var tenant: Tenant
    public var keyID: String
    /// The profile of a credential; `nil` for a native API key.
    public var profile: String?
    /// The credential's sealed profile settings (`APIKeyRecord.sealedSettings`).
    public var sealedSettings: [UInt8]

    public init(tenant: Tenant, keyID: String, profile: String? = nil, sealedSettings: [UInt8] = []) {
        self.sealedSettings = sealedSettings
        self.tenant = tenant
        self.keyID = keyID
        self.profile = profile
    }
}
