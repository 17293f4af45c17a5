import Crypto
import Foundation
import JWTKit
public import OTPGateCore

/// ES256 verification tokens through jwt-kit. The signing keys live in the store, sealed under the master key,
/// so every instance signs with the same key and publishes the same JWKS; this type holds them only in memory.
public struct JWTTokenSigner: TokenSigner {
    public let algorithm = "ES256"
    private let keys: JWTKeyCollection
    private let activeKID: String
    private let knownKIDs: Set<String>
    private let jwksDocument: [UInt8]

    /// The name under which the first signing key is stored; the first instance to start writes it, others adopt it.
    static let firstKeyName = "signing-key:0001"

    /// Loads the signing keys from the store, creating the first one if there is none.
    public static func load(store: any Store, box: SecretBox, now: Timestamp) async throws -> JWTTokenSigner {
        var stored = try await store.secrets(prefix: "signing-key:")
        if stored.isEmpty {
            let candidate = ES256PrivateKey()
            let sealed = try box.seal(Array(candidate.pemRepresentation.utf8))
            _ = try await store.insertSecretIfAbsent(name: firstKeyName, value: sealed, createdAt: now)
            stored = try await store.secrets(prefix: "signing-key:")
        }
        let collection = JWTKeyCollection()
        var jwks: [JWK] = []
        var kids: [String] = []
        for (_, sealed) in stored {
            let pem = String(decoding: try box.open(sealed), as: UTF8.self)
            let key = try ES256PrivateKey(pem: pem)
            guard let parameters = key.publicKey.parameters else { throw ConfigurationError("a stored signing key has no public parameters") }
            let kid = keyID(x: parameters.x, y: parameters.y)
            await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            jwks.append(JWK.ecdsa(.es256, identifier: JWKIdentifier(string: kid), x: parameters.x, y: parameters.y, curve: .p256))
            kids.append(kid)
        }
        // Sorted keys: every instance serves byte-identical JWKS for the same keys.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let document = try encoder.encode(JWKS(keys: jwks))
        return JWTTokenSigner(keys: collection, activeKID: kids.last!, knownKIDs: Set(kids), jwksDocument: Array(document))
    }

    /// A key id that is a function of the public key (a hash of its coordinates), so every instance derives the same one.
    static func keyID(x: String, y: String) -> String {
        let digest = SHA256.hash(data: Array("\(x).\(y)".utf8))
        return Base32.encode(Array(digest.prefix(10)))
    }

    public func sign(_ claims: VerificationClaims) async throws -> String {
        var header = JWTHeader()
        header.typ = "JWT"
        return try await keys.sign(TokenPayload(claims: claims), kid: JWKIdentifier(string: activeKID), header: header)
    }

    public func verifySignature(_ token: String) async -> Result<VerificationClaims, TokenRejection> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 8192, parts.count == 3, parts.allSatisfy({ !$0.isEmpty }),
              let headerData = Base64URL.decode(String(parts[0])),
              let header = try? JSONDecoder().decode(JOSEHeader.self, from: headerData)
        else { return .failure(.malformed) }
        guard header.alg == algorithm else { return .failure(.unsupportedAlgorithm) }
        guard let kid = header.kid, knownKIDs.contains(kid) else { return .failure(.unknownKey) }
        do {
            let payload = try await keys.verify(token, as: TokenPayload.self)
            return .success(payload.claims)
        } catch {
            return .failure(.badSignature)
        }
    }

    public func jwks() async throws -> [UInt8] { jwksDocument }

    private struct JOSEHeader: Decodable {
        var alg: String?
        var kid: String?
    }
}

/// The JWT payload: the claims themselves, with time checks left to the engine so it can say *why* a token fails.
struct TokenPayload: JWTPayload {
    var claims: VerificationClaims

    init(claims: VerificationClaims) { self.claims = claims }
    init(from decoder: any Decoder) throws { claims = try VerificationClaims(from: decoder) }
    func encode(to encoder: any Encoder) throws { try claims.encode(to: encoder) }
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

enum Base64URL {
    static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64)
    }
}
