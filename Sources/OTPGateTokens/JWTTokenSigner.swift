import Crypto
import Foundation
import JWTKit
public import OTPGateCore

/// ES256 verification tokens. The signing keys live in the store, sealed under the master key, so every instance
/// signs with the same key and publishes the same JWKS; this type holds them only in memory.
///
/// jwt-kit holds the keys and does the ECDSA (`JWTAlgorithm.sign` / `verify`); the JOSE header and the payload go
/// through the project's own JSON path (`JSONParser`, `JSONValue.serialized`) in both directions, so a token's
/// `context` keeps each number's exact text and a header or payload that repeats a key is refused. (jwt-kit's own
/// `sign`/`verify` would run them through Foundation's coders, and its `verify` decodes an internal type that a
/// plugged-in `JWTJSONDecoder` cannot build.)
public struct JWTTokenSigner: TokenSigner {
    public let algorithm = "ES256"
    /// The ECDSA of each known key, by key id.
    private let keys: [String: any JWTAlgorithm]
    private let activeKey: any JWTAlgorithm
    /// `base64url(header).`: the same for every token the active key signs.
    private let headerPrefix: [UInt8]
    private let jwksDocument: [UInt8]

    /// The name under which the first signing key is stored; the first instance to start writes it, others adopt it.
    static let firstKeyName = "signing-key:0001"

    /// Loads the signing keys from the store, creating the first one if there is none.
    public static func load(store: any SecretStore, box: SecretBox, now: Timestamp) async throws -> JWTTokenSigner {
        var stored = try await store.secrets(prefix: "signing-key:")
        if stored.isEmpty {
            let candidate = ES256PrivateKey()
            let sealed = try box.seal(Array(candidate.pemRepresentation.utf8))
            _ = try await store.insertSecretIfAbsent(name: firstKeyName, value: sealed, createdAt: now)
            stored = try await store.secrets(prefix: "signing-key:")
        }
        let collection = JWTKeyCollection()
        var keys: [String: any JWTAlgorithm] = [:]
        var published: [JSONValue] = []
        var kids: [String] = []
        for (_, sealed) in stored {
            let pem = String(decoding: try box.open(sealed), as: UTF8.self)
            let key = try ES256PrivateKey(pem: pem)
            guard let parameters = key.publicKey.parameters else { throw StoreError(.corrupt, "a stored signing key has no public parameters") }
            let kid = keyID(x: parameters.x, y: parameters.y)
            await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            keys[kid] = try await collection.getKey(for: JWKIdentifier(string: kid))
            // RFC 7517/7518 members of a public EC key (what jwt-kit's JWK encodes for `.ecdsa(.es256, …)`).
            published.append(
                .object([
                    "kty": .string("EC"), "alg": .string("ES256"), "crv": .string("P-256"), "kid": .string(kid),
                    "x": .string(parameters.x), "y": .string(parameters.y),
                ]))
            kids.append(kid)
        }
        let activeKID = kids.last!
        var headerPrefix: [UInt8] = []
        Base64URL.encode(
            JSONValue.object(["alg": .string("ES256"), "kid": .string(activeKID), "typ": .string("JWT")]).serialized, into: &headerPrefix)
        headerPrefix.append(UInt8(ascii: "."))
        // Sorted keys: every instance serves byte-identical JWKS for the same keys.
        return JWTTokenSigner(
            keys: keys, activeKey: keys[activeKID]!, headerPrefix: headerPrefix,
            jwksDocument: JSONValue.object(["keys": .array(published)]).serialized)
    }

    /// A key id that is a function of the public key (a hash of its coordinates), so every instance derives the same one.
    static func keyID(x: String, y: String) -> String {
        let digest = SHA256.hash(data: Array("\(x).\(y)".utf8))
        return Base32.encode(Array(digest.prefix(10)))
    }

    /// JWS compact serialization (RFC 7515 §7.1): `base64url(header).base64url(payload).base64url(signature)`.
    public func sign(_ claims: VerificationClaims) async throws -> String {
        var token = headerPrefix
        Base64URL.encode(claims.json.serialized, into: &token)
        let signature = try activeKey.sign(token)
        token.append(UInt8(ascii: "."))
        Base64URL.encode(signature, into: &token)
        return String(decoding: token, as: UTF8.self)
    }

    public func verifySignature(_ token: String) async -> Result<VerificationClaims, TokenRejection> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 8192, parts.count == 3, parts.allSatisfy({ !$0.isEmpty }),
            let headerData = Base64URL.decode(String(parts[0])),
            case .object(let header)? = try? JSONParser.parse(Array(headerData)),
            let alg = Self.optionalString(header["alg"]), let kid = Self.optionalString(header["kid"])
        else { return .failure(.malformed) }
        guard alg == algorithm else { return .failure(.unsupportedAlgorithm) }
        guard let kid, let key = keys[kid] else { return .failure(.unknownKey) }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard let signature = Base64URL.decode(String(parts[2])), (try? key.verify(signature, signs: signingInput)) == true else {
            return .failure(.badSignature)
        }
        // Signed by one of our keys, so written by `sign`; unreadable only if it was signed by something else.
        guard let payloadData = Base64URL.decode(String(parts[1])),
            let payload = try? JSONParser.parse(Array(payloadData)),
            let claims = try? VerificationClaims(json: payload)
        else { return .failure(.malformed) }
        return .success(claims)
    }

    public func jwks() async throws -> [UInt8] { jwksDocument }

    /// A header member that may be absent or `null` (`.some(nil)`), and must otherwise be a string (`nil`: malformed).
    private static func optionalString(_ value: JSONValue?) -> String?? {
        switch value {
        case nil, .null?: return .some(nil)
        case .string(let s)?: return .some(s)
        default: return nil
        }
    }
}

enum Base64URL {
    /// Decodes the canonical base64url form only: the URL alphabet, no padding, and no set bits past the last byte,
    /// so one token has exactly one spelling (a re-encoded signature is refused, not verified).
    static func decode(_ text: String) -> Data? {
        let bytes = Array(text.utf8)
        guard bytes.count % 4 != 1, bytes.allSatisfy({ alphabetSet.contains($0) }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        guard let data = Data(base64Encoded: base64) else { return nil }
        var again: [UInt8] = []
        encode(Array(data), into: &again)
        return again == bytes ? data : nil
    }

    private static let alphabetSet = Set(alphabet)

    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Appends `bytes` in base64url without padding (RFC 7515 §2).
    static func encode(_ bytes: [UInt8], into out: inout [UInt8]) {
        out.reserveCapacity(out.count + (bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        switch bytes.count - i {
        case 1:
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(n >> 18)])
            out.append(alphabet[Int(n >> 12 & 63)])
        case 2:
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(n >> 18)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
        default: break
        }
    }
}
