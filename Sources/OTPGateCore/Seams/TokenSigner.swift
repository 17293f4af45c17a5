/// The claims of a verification token: OIDC names for the verified destination, the tenant, the purpose
/// and the caller's bound context, so a downstream service can trust one signed object.
public struct VerificationClaims: Sendable, Equatable {
    public var iss: String
    public var sub: String
    public var tenantID: String
    public var jti: String
    public var iat: Int64
    public var exp: Int64
    public var phoneNumber: String?
    public var phoneNumberVerified: Bool?
    public var email: String?
    public var emailVerified: Bool?
    public var purpose: String?
    public var context: JSONValue?
    public var reference: String?
    public var amr: [String]

    public init(
        iss: String, sub: String, tenantID: String, jti: String, iat: Int64, exp: Int64, phoneNumber: String? = nil,
        phoneNumberVerified: Bool? = nil, email: String? = nil, emailVerified: Bool? = nil, purpose: String? = nil,
        context: JSONValue? = nil, reference: String? = nil, amr: [String]
    ) {
        self.iss = iss
        self.sub = sub
        self.tenantID = tenantID
        self.jti = jti
        self.iat = iat
        self.exp = exp
        self.phoneNumber = phoneNumber
        self.phoneNumberVerified = phoneNumberVerified
        self.email = email
        self.emailVerified = emailVerified
        self.purpose = purpose
        self.context = context
        self.reference = reference
        self.amr = amr
    }
}

/// Why a token is not accepted. The raw values are the API's `reason` strings.
public enum TokenRejection: String, Error, Sendable, Equatable {
    case malformed
    case unsupportedAlgorithm = "unsupported_algorithm"
    case unknownKey = "unknown_key"
    case badSignature = "bad_signature"
    case expired
    case alreadyUsed = "already_used"
    case purposeMismatch = "purpose_mismatch"
    case tenantMismatch = "tenant_mismatch"
}

/// Signs verification tokens and checks their signatures. Keys come from the store (shared by all instances);
/// the signer only holds them in memory as a cache.
public protocol TokenSigner: Sendable {
    /// The JWS `alg` every token carries; a token with any other `alg` is refused.
    var algorithm: String { get }
    func sign(_ claims: VerificationClaims) async throws -> String
    /// Checks form, algorithm, key id and signature (not time, tenant or use: the engine decides those).
    func verifySignature(_ token: String) async -> Result<VerificationClaims, TokenRejection>
    /// Signs a token a vendor profile issues (a proof token, an access token) under its own `typ` and an `aud`, which
    /// `verifySignature` refuses: no profile token passes as a verification token, nor one as another's.
    func signProfileToken(_ payload: [String: JSONValue], typ: String) async throws -> String
    /// The payload of a profile token signed by one of our keys with exactly this `typ` and `aud` (time is the caller's).
    func verifyProfileToken(_ token: String, typ: String, audience: String) async -> Result<[String: JSONValue], TokenRejection>
    /// The public keys as a JWKS document.
    func jwks() async throws -> [UInt8]
}
