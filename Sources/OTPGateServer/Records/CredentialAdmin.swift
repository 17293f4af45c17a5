import Foundation
public import OTPGateCore
public import OTPGateTokens

/// Vendor-profile credentials: a Bearer JWT per credential, signed with the token signing key under its own `typ`
/// and an `aud` naming the profile, stored (like an API key) only as its SHA-256 and bound to one tenant and profile.
/// Authentication looks the hash up, so revoking a credential or rotating the signing key takes effect as for API keys
/// (the token keeps working after a key rotation; revoke it to end it).
public struct CredentialAdmin: Sendable {
    public let store: any TenantStore
    public let signer: JWTTokenSigner
    public let issuer: String
    public let clock: any Clock
    public let random: any RandomSource

    /// The `typ` of every credential token: never `JWT`, which verification tokens use.
    public static let tokenType = "otpgate-credential+jwt"

    public init(
        store: any TenantStore, signer: JWTTokenSigner, issuer: String, clock: any Clock = SystemClock(),
        random: any RandomSource = SystemRandomSource()
    ) {
        self.store = store
        self.signer = signer
        self.issuer = issuer
        self.clock = clock
        self.random = random
    }

    public struct Created: Sendable {
        public let credentialID: String
        public let token: String
    }

    public func create(tenantID: String, profile: String) async throws -> Created {
        guard try await store.tenant(id: tenantID) != nil else { throw ConfigurationError("no tenant \(tenantID)") }
        let now = clock.now()
        let id = Identifier.make("crd", random: random)
        let token = try signer.signProfileToken(
            [
                "iss": .string(issuer), "sub": .string(id), "aud": .string("otpgate:" + profile), "tenant_id": .string(tenantID),
                "profile": .string(profile), "iat": .int(now.seconds), "jti": .string(Identifier.make("jti", random: random)),
            ], typ: Self.tokenType)
        try await store.createAPIKey(
            APIKeyRecord(
                id: id, tenantID: tenantID, hash: APIKey.hash(token), prefix: profile + ":…" + String(token.suffix(6)), createdAt: now,
                profile: profile))
        return Created(credentialID: id, token: token)
    }

    /// A tenant's credentials (all profiles, or one).
    public func list(tenantID: String, profile: String? = nil) async throws -> [APIKeyRecord] {
        try await store.apiKeys(tenantID: tenantID).filter { $0.profile != nil && (profile == nil || $0.profile == profile) }
    }
}
