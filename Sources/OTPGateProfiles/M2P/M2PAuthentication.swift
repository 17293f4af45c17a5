import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import OTPGateCore
import OTPGateNativeAPI
import Synchronization

/// M2P's client-credentials flow: `POST /auth/token` exchanges `clientId` and `clientSecret` for a Bearer access token,
/// an ES256 JWT OTPGate signs (`typ` `otpgate-m2p-access+jwt`, `aud` `otpgate:m2p`, `sub` the credential id, one hour).
/// Each call checks the signature and expiry, and that the credential is still unrevoked (read through the key cache),
/// so revoking a credential ends its tokens too.
struct M2PAccessTokens {
    let services: ProfileServices
    let authentication: ProfileAuthentication
    /// Tokens whose signature was checked already (a token is immutable; its expiry and its credential are checked on
    /// every call all the same).
    let verified = VerifiedTokens()

    static let typ = "otpgate-m2p-access+jwt"
    static let audience = "otpgate:m2p"
    static let lifetime: Duration = .seconds(3600)
    static let tenantHeader = HTTPField.Name("X-TENANT-ID")!

    func issue(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        var context = context
        let body = try await M2PBody.read(request, context: context)
        let clientID = try body.string("clientId", alias: "client_id")
        let secret = try body.string("clientSecret", alias: "client_secret")
        if let grant = try body.optionalString("grantType", alias: "grant_type"), grant != "client_credentials" {
            throw M2PReply.badRequest("grantType must be client_credentials")
        }
        switch try await authentication.authenticate(secret: Substring(secret), request: request, context: &context, profile: "m2p") {
        case .authenticated: break
        case .invalid: throw M2PReply.unauthorized("Bad credentials")
        case .throttled(let wait): throw M2PReply.problem(429, title: "Too Many Requests", detail: "Rate limit exceeded", retryAfter: wait)
        }
        let principal = try context.caller
        guard principal.keyID == clientID else {
            _ = try await authentication.failed(request, context: context)
            throw M2PReply.unauthorized("Bad credentials")
        }
        if let header = request.headers[Self.tenantHeader] { try checkTenant(header, principal) }
        try await services.engine.countRequest(principal: principal)
        let now = services.now
        let token = try await services.engine.signer.signProfileToken(
            [
                "iss": .string(services.engine.issuer), "aud": .string(Self.audience), "sub": .string(principal.keyID),
                "tenant_id": .string(principal.tenant.id), "iat": .int(now.seconds), "exp": .int((now + Self.lifetime).seconds),
                "jti": .string(Identifier.make("jti", random: services.random)),
            ], typ: Self.typ)
        return M2PReply(
            status: 200,
            body: ["access_token": .string(token), "token_type": .string("Bearer"), "expires_in": .int(Self.lifetime.components.seconds)]
        ).response
    }

    /// The credential, tenant and expiry an access token names, if OTPGate signed it as one.
    func claims(of token: String) async -> (credentialID: String, tenantID: String, expires: Int64)? {
        let key = Array(SHA256.hash(data: Array(token.utf8)))
        if let known = verified.claims(key) { return known }
        guard case .success(let claims) = await services.engine.signer.verifyProfileToken(token, typ: Self.typ, audience: Self.audience),
            case .string(let credentialID)? = claims["sub"], case .string(let tenantID)? = claims["tenant_id"],
            case .number(let exp)? = claims["exp"], let expires = exp.int64Value
        else { return nil }
        verified.remember(key, (credentialID, tenantID, expires))
        return (credentialID, tenantID, expires)
    }

    /// `X-TENANT-ID` must be the value registered with the credential.
    func checkTenant(_ header: String, _ principal: Principal) throws {
        let settings = try CredentialSettings(opening: principal.sealedSettings, with: services.engine.cipher, credentialID: principal.keyID)
        guard let expected = settings.vendorTenantID,
            constantTimeEquals(Array(expected.utf8), Array(header.trimmingCharacters(in: .whitespaces).utf8))
        else { throw M2PReply.problem(403, title: "Forbidden", detail: "X-TENANT-ID does not match the credential") }
    }
}

/// Every OTP call: a valid, unexpired access token of a live m2p credential, and its `X-TENANT-ID`.
struct M2PAuthentication: RouterMiddleware {
    typealias Context = AppRequestContext
    let tokens: M2PAccessTokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let authentication = tokens.authentication
        guard let header = request.headers[.authorization] else {
            throw M2PReply.unauthorized("Full authentication is required to access this resource")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw M2PReply.unauthorized("The Authorization header must use the Bearer scheme")
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard let (credentialID, tenantID, expires) = await tokens.claims(of: token) else {
            if case .throttled(let wait) = try await authentication.failed(request, context: context) {
                throw M2PReply.problem(429, title: "Too Many Requests", detail: "Rate limit exceeded", retryAfter: wait)
            }
            throw M2PReply.unauthorized("Invalid access token")
        }
        guard tokens.services.now.seconds < expires else { throw M2PReply.unauthorized("Access token expired") }
        switch try await authentication.authenticate(credentialID: credentialID, request: request, context: &context, profile: "m2p") {
        case .authenticated: break
        case .invalid: throw M2PReply.unauthorized("Invalid access token")
        case .throttled(let wait): throw M2PReply.problem(429, title: "Too Many Requests", detail: "Rate limit exceeded", retryAfter: wait)
        }
        let principal = try context.caller
        guard principal.tenant.id == tenantID else { throw M2PReply.unauthorized("Invalid access token") }
        guard let tenantHeader = request.headers[M2PAccessTokens.tenantHeader] else { throw M2PReply.badRequest("X-TENANT-ID header is required") }
        try tokens.checkTenant(tenantHeader, principal)
        return try await next(request, context)
    }
}

/// An M2P request body, read the way M2P's Spring services read it: anything that is not a JSON object, or a field of a
/// type that does not convert, is the documented 400 "Unable to convert http message"; numbers convert to strings and
/// numeric strings to integers; unknown fields are ignored.
struct M2PBody {
    let fields: [String: JSONValue]

    static func read(_ request: Request, context: AppRequestContext) async throws -> M2PBody {
        let bytes = try await context.collectBody(request)
        guard case .object(let fields) = try? JSONParser.parse(bytes) else { throw M2PReply.unconvertible }
        return M2PBody(fields: fields)
    }

    func optionalString(_ name: String, alias: String? = nil) throws(M2PReply) -> String? {
        switch fields[name] ?? alias.flatMap({ fields[$0] }) {
        case nil, .null?: return nil
        case .string(let s)?:
            guard s.utf8.count <= 1024 else { throw M2PReply.badRequest("\(name) is too long") }
            return s
        case .number(let n)?: return n.text
        case .bool(let b)?: return b ? "true" : "false"
        default: throw M2PReply.unconvertible
        }
    }

    func string(_ name: String, alias: String? = nil) throws(M2PReply) -> String {
        guard let value = try optionalString(name, alias: alias)?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            throw M2PReply.badRequest("\(name) is required")
        }
        return value
    }

    func optionalInt(_ name: String) throws(M2PReply) -> Int? {
        switch fields[name] {
        case nil, .null?: return nil
        case .number(let n)?: if let i = n.intValue { return i }
        case .string(let s)?: if let i = Int(s.trimmingCharacters(in: .whitespaces)) { return i }
        default: break
        }
        throw M2PReply.unconvertible
    }

    func object(_ name: String) throws(M2PReply) -> M2PBody? {
        switch fields[name] {
        case nil, .null?: return nil
        case .object(let members)?: return M2PBody(fields: members)
        default: throw M2PReply.unconvertible
        }
    }
}

/// A bounded cache of access tokens whose signatures were checked: process memory holds only what any instance can
/// recompute (a signature check), never a decision (expiry and revocation are read on every call).
final class VerifiedTokens: Sendable {
    typealias Claims = (credentialID: String, tenantID: String, expires: Int64)
    private let entries = Mutex<[[UInt8]: Claims]>([:])
    private let capacity = 4096

    func claims(_ key: [UInt8]) -> Claims? { entries.withLock { $0[key] } }

    func remember(_ key: [UInt8], _ claims: Claims) {
        entries.withLock {
            if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }
            $0[key] = claims
        }
    }
}
