import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OTPGateCore
import OTPGateNativeAPI

/// Eko's request signature: `secret-key` = base64(HMAC-SHA256(key: the ASCII bytes of base64(access_key), message: the
/// `secret-key-timestamp` text)). It covers only the timestamp, so the window is short and each signed request is
/// accepted once (`RequestNonceStore`).
enum EkoSignature {
    /// How far `secret-key-timestamp` may be from the server's clock, either way (Eko's newer docs: two minutes).
    static let window: Duration = .seconds(120)

    static func secretKey(accessKey: String, timestamp: String) -> String {
        let key = SymmetricKey(data: Array(Data(accessKey.utf8).base64EncodedString().utf8))
        return Data(HMAC<SHA256>.authenticationCode(for: Array(timestamp.utf8), using: key)).base64EncodedString()
    }

    /// What makes a request the same request: its timestamp and signature, method, path with query and body.
    static func replayKey(timestamp: String, signature: String, method: String, pathAndQuery: String, body: [UInt8]) -> [UInt8] {
        var bytes = Array("\(timestamp)\n\(signature)\n\(method)\n\(pathAndQuery)\n".utf8)
        bytes += Array(SHA256.hash(data: body))
        return bytes
    }

    static let developerKey = HTTPField.Name("developer_key")!
    static let secretKeyHeader = HTTPField.Name("secret-key")!
    static let timestampHeader = HTTPField.Name("secret-key-timestamp")!
}

/// Authenticates every Eko call: the credential by `developer_key`, then the signature under its sealed access key and
/// the timestamp's window. Each refusal is a 403 with Eko's JSON envelope. Whether this exact request was seen before
/// is decided by the store when the handler records `requestNonce` (state in the store, so a replay is refused on any
/// instance, before the handler changes anything).
struct EkoAuthentication: RouterMiddleware {
    typealias Context = AppRequestContext
    let authentication: ProfileAuthentication
    let services: ProfileServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        func header(_ name: HTTPField.Name) -> String? {
            guard let value = request.headers[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        guard let developerKey = header(EkoSignature.developerKey) else { throw EkoReply.forbidden(2487, "the developer_key header is missing") }
        guard let signature = header(EkoSignature.secretKeyHeader), let timestamp = header(EkoSignature.timestampHeader) else {
            throw EkoReply.forbidden(2487, "the secret-key and secret-key-timestamp headers are required")
        }
        guard timestamp.utf8.count == 13, timestamp.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let millis = Int64(timestamp) else {
            throw EkoReply.forbidden(2486, "secret-key-timestamp must be the time in milliseconds since the epoch (13 digits)")
        }
        switch try await authentication.authenticate(secret: Substring(developerKey), request: request, context: &context, profile: "eko") {
        case .authenticated: break
        case .invalid: throw EkoReply.forbidden(2483, "invalid developer_key")
        case .throttled(let wait): throw EkoReply.rateLimited("Too many failed authentications.", retryAfter: wait)
        }
        let principal = try context.caller
        let settings = try CredentialSettings(opening: principal.sealedSettings, with: services.engine.cipher, credentialID: principal.keyID)
        guard let accessKey = settings.accessKey,
            constantTimeEquals(Array(EkoSignature.secretKey(accessKey: accessKey, timestamp: timestamp).utf8), Array(signature.utf8))
        else {
            if case .throttled(let wait) = try await authentication.failed(request, context: context) {
                throw EkoReply.rateLimited("Too many failed authentications.", retryAfter: wait)
            }
            throw EkoReply.forbidden(2484, "invalid secret-key")
        }
        let now = services.now
        let signedAt = Timestamp(milliseconds: millis)
        guard signedAt <= now + EkoSignature.window, now <= signedAt + EkoSignature.window else {
            throw EkoReply.forbidden(2485, "secret-key-timestamp is more than 2 minutes from the server's time")
        }
        let body = try await context.collectBody(request)
        let key = EkoSignature.replayKey(
            timestamp: timestamp, signature: signature, method: request.method.rawValue, pathAndQuery: request.uri.description, body: body)
        // Led by the timestamp, so the replay guard's rows are inserted in time order (appended to its index, not
        // scattered over it) and are swept in the same order.
        let digest = timestamp + "." + Data(services.engine.cipher.requestDigest(key)).base64EncodedString()
        // Recorded by the handler, with its first write (`EkoMobileOTP`): a replay is refused before anything changes.
        context.requestNonce = RequestNonce(tenantID: principal.tenant.id, digest: digest, expiresAt: signedAt + EkoSignature.window)
        var replayable = request
        replayable.body = .init(buffer: ByteBuffer(bytes: body))
        return try await next(replayable, context)
    }
}
