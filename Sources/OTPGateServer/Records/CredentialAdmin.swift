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
    /// Who creates credentials, for the audit log (nil with auditing off).
    public let audit: AuditActor?

    /// The `typ` of every credential token: never `JWT`, which verification tokens use.
    public static let tokenType = "otpgate-credential+jwt"

    public init(
        store: any TenantStore, signer: JWTTokenSigner, issuer: String, clock: any Clock = SystemClock(),
        random: any RandomSource = SystemRandomSource(), audit: AuditActor? = nil
    ) {
        self.store = store
        self.signer = signer
        self.issuer = issuer
        self.clock = clock
        self.random = random
        self.audit = audit
    }

    /// A new credential: what its client authenticates with, shown once (`fields`, in the vendor's names).
    public struct Created: Sendable {
        public let credentialID: String
        public let profile: String
        public let tenantID: String
        /// The secret and settings to hand to the client, e.g. `token`; `developer_key`, `access_key`, `initiator_id`
        /// (Eko); `client_id`, `client_secret`, `x_tenant_id` (M2P).
        public let fields: [(name: String, value: String)]

        public func field(_ name: String) -> String? { fields.first { $0.name == name }?.value }
        /// The Bearer token of a Surepass or KwikID credential.
        public var token: String { field("token") ?? "" }

        /// The JSON object the CLI prints with `--json`.
        public var json: [(String, String)] {
            [("credential_id", credentialID), ("profile", profile), ("tenant_id", tenantID)] + fields.map { ($0.name, $0.value) }
        }
    }

    /// Profile options: Eko's registered initiator id (required for `eko`), M2P's `X-TENANT-ID` (default: the tenant id).
    public struct Options: Sendable {
        public var initiatorID: String?
        public var vendorTenantID: String?
        /// M2P: a dual OTP sends a code of its own to the email (`DIFFERENT_OTP_DUAL`).
        public var separateDualCodes: Bool
        public init(initiatorID: String? = nil, vendorTenantID: String? = nil, separateDualCodes: Bool = false) {
            self.separateDualCodes = separateDualCodes
            self.initiatorID = initiatorID
            self.vendorTenantID = vendorTenantID
        }
    }

    /// Creates a credential. `cipher` seals the settings of profiles that have them (Eko, M2P).
    public func create(tenantID: String, profile: String, options: Options = Options(), cipher: PersonalDataCipher? = nil) async throws -> Created {
        guard try await store.tenant(id: tenantID) != nil else { throw ConfigurationError("no tenant \(tenantID)") }
        let now = clock.now()
        let id = Identifier.make("crd", random: random)
        let secret: String
        var settings = CredentialSettings()
        var fields: [(name: String, value: String)] = []
        switch profile {
        case "eko":
            guard let initiator = options.initiatorID, Self.isMobile(initiator) else {
                throw ConfigurationError("an eko credential needs --initiator-id, the API user's registered 10-digit mobile")
            }
            secret = Hex.encode(random.bytes(16))
            settings.accessKey = Self.uuid(random.bytes(16))
            settings.initiatorID = initiator
            fields = [("developer_key", secret), ("access_key", settings.accessKey!), ("initiator_id", initiator)]
        case "m2p":
            let vendorTenant = options.vendorTenantID ?? tenantID
            guard !vendorTenant.isEmpty, vendorTenant.utf8.count <= 128, vendorTenant.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw ConfigurationError("--x-tenant-id must be 1 to 128 printable ASCII characters without spaces")
            }
            secret = Self.base64URL(random.bytes(32))
            settings.vendorTenantID = vendorTenant
            settings.separateDualCodes = options.separateDualCodes
            fields = [
                ("client_id", id), ("client_secret", secret), ("x_tenant_id", vendorTenant),
                ("dual_otp", options.separateDualCodes ? "different" : "same"),
            ]
        default:
            secret = try signer.signProfileToken(
                [
                    "iss": .string(issuer), "sub": .string(id), "aud": .string("otpgate:" + profile), "tenant_id": .string(tenantID),
                    "profile": .string(profile), "iat": .int(now.seconds), "jti": .string(Identifier.make("jti", random: random)),
                ], typ: Self.tokenType)
            fields = [("token", secret)]
        }
        var sealed: [UInt8] = []
        if settings != CredentialSettings() {
            guard let cipher else { throw ConfigurationError("a \(profile) credential's settings need the data key to be sealed") }
            sealed = try settings.sealed(with: cipher, credentialID: id)
        }
        try await store.createAPIKey(
            APIKeyRecord(
                id: id, tenantID: tenantID, hash: APIKey.hash(secret), prefix: profile + ":…" + String(secret.suffix(4)), createdAt: now,
                profile: profile, sealedSettings: sealed),
            audit: audit?.entry(AuditAction.credentialCreated, tenantID: tenantID, subject: id, at: now, detail: ["profile": .string(profile)]))
        return Created(credentialID: id, profile: profile, tenantID: tenantID, fields: fields)
    }

    static func isMobile(_ value: String) -> Bool { value.utf8.count == 10 && value.allSatisfy { $0.isASCII && $0.isNumber } }

    /// Eko's access keys are UUID-shaped; so are these (version 4 form, 122 random bits).
    static func uuid(_ bytes: [UInt8]) -> String {
        var b = bytes
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return Hex.uuidText(b)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A tenant's credentials (all profiles, or one).
    public func list(tenantID: String, profile: String? = nil) async throws -> [APIKeyRecord] {
        try await store.apiKeys(tenantID: tenantID).filter { $0.profile != nil && (profile == nil || $0.profile == profile) }
    }
}
