import Crypto
import Foundation
import JWTKit
public import OTPGateCore
import Synchronization

/// ES256 verification tokens. The signing keys live in the store, sealed under the master key, so every instance
/// signs with the same key and publishes the same JWKS; this type holds them only in memory, as a cache that
/// `refresh()` renews (the `SigningKeyRefresher` service calls it), so a key added by `otpgate signing-key rotate`
/// reaches every instance before it is used.
///
/// Rotation: each key has an activation time (in its secret's name). A token is signed by the newest key active at
/// its `iat`; the JWKS publishes the keys not yet active (so verifiers fetch them before the first token), the active
/// one, and each earlier one until `maximumTokenLifetime` after its successor took over (when the last token it
/// signed has expired).
///
/// jwt-kit holds the keys and does the ECDSA (`JWTAlgorithm.sign` / `verify`); the JOSE header and the payload go
/// through the project's own JSON path (`JSONParser`, `JSONValue.serialized`) in both directions, so a token's
/// `context` keeps each number's exact text and a header or payload that repeats a key is refused. (jwt-kit's own
/// `sign`/`verify` would run them through Foundation's coders, and its `verify` decodes an internal type that a
/// plugged-in `JWTJSONDecoder` cannot build.)
public final class JWTTokenSigner: TokenSigner, Sendable {
    public let algorithm = "ES256"
    private let store: any SecretStore
    private let master: MasterKeyRing
    private let clock: any Clock
    private let keys: Mutex<SigningKeys>

    /// The name under which the first signing key is stored; the first instance to start writes it, others adopt it.
    static let firstKeyName = "signing-key:0001"
    static let namePrefix = "signing-key:"
    /// How long a replaced key stays published: the longest a token can live.
    public static let maximumTokenLifetime = Duration.seconds(Policy.tokenTTLRange.upperBound)

    private init(store: any SecretStore, master: MasterKeyRing, clock: any Clock, keys: SigningKeys) {
        self.store = store
        self.master = master
        self.clock = clock
        self.keys = Mutex(keys)
    }

    /// Loads the signing keys from the store, creating the first one if there is none.
    public static func load(store: any SecretStore, master: MasterKeyRing, clock: any Clock) async throws -> JWTTokenSigner {
        if try await store.secrets(prefix: namePrefix).isEmpty {
            let candidate = ES256PrivateKey()
            let sealed = try master.seal(Array(candidate.pemRepresentation.utf8))
            _ = try await store.insertSecretIfAbsent(name: firstKeyName, value: sealed, createdAt: clock.now())
        }
        let keys = try await SigningKeys.load(store: store, master: master, known: SigningKeys(all: []))
        return JWTTokenSigner(store: store, master: master, clock: clock, keys: keys)
    }

    /// Re-reads the stored keys, adding any new one (an instance learns of a rotation this way).
    public func refresh() async throws {
        let current = keys.withLock { $0 }
        let fresh = try await SigningKeys.load(store: store, master: master, known: current)
        keys.withLock { $0 = fresh }
    }

    /// Adds a signing key that becomes active at `activatesAt`, to be published until then. Returns its key id.
    public static func addKey(store: any SecretStore, master: MasterKeyRing, activatesAt: Timestamp, now: Timestamp) async throws -> String {
        let key = ES256PrivateKey()
        let name = namePrefix + String(format: "%013lld", activatesAt.milliseconds)
        let sealed = try master.seal(Array(key.pemRepresentation.utf8))
        let stored = try await store.insertSecretIfAbsent(name: name, value: sealed, createdAt: now)
        guard stored == sealed else { throw StoreError(.conflict, "a signing key activating at that moment already exists") }
        guard let parameters = key.publicKey.parameters else { throw StoreError(.corrupt, "a new signing key has no public parameters") }
        return keyID(x: parameters.x, y: parameters.y)
    }

    /// The keys with their activation times and whether each is published or signing at `now`.
    public func keyStates(at now: Timestamp) -> [(kid: String, activatesAt: Timestamp, state: String)] {
        let set = keys.withLock { $0 }
        let active = set.active(at: now).kid
        let published = Set(set.published(at: now).map(\.kid))
        return set.all.map { key in
            let state =
                key.kid == active ? "active" : key.activatesAt > now ? "next" : published.contains(key.kid) ? "retiring" : "retired"
            return (key.kid, key.activatesAt, state)
        }
    }

    /// A key id that is a function of the public key (a hash of its coordinates), so every instance derives the same one.
    static func keyID(x: String, y: String) -> String {
        let digest = SHA256.hash(data: Array("\(x).\(y)".utf8))
        return Base32.encode(Array(digest.prefix(10)))
    }

    /// JWS compact serialization (RFC 7515 §7.1): `base64url(header).base64url(payload).base64url(signature)`,
    /// signed by the key active at the token's `iat`.
    public func sign(_ claims: VerificationClaims) async throws -> String {
        let key = keys.withLock { $0.active(at: Timestamp(seconds: claims.iat)) }
        var token = key.headerPrefix
        Base64URL.encode(claims.json.serialized, into: &token)
        let signature = try key.algorithm.sign(token)
        token.append(UInt8(ascii: "."))
        Base64URL.encode(signature, into: &token)
        return String(decoding: token, as: UTF8.self)
    }

    /// Signs a token OTPGate issues for a vendor profile (a credential's Bearer JWT, a profile's own proof token) with the
    /// active key. Its header `typ` and payload `aud` set it apart: `verifySignature` refuses any token with another `typ`
    /// or with an `aud`, so no profile token passes as a verification token.
    public func signProfileToken(_ payload: [String: JSONValue], typ: String) throws -> String {
        let key = keys.withLock { $0.active(at: clock.now()) }
        var token: [UInt8] = []
        Base64URL.encode(JSONValue.object(["alg": .string("ES256"), "kid": .string(key.kid), "typ": .string(typ)]).serialized, into: &token)
        token.append(UInt8(ascii: "."))
        Base64URL.encode(JSONValue.object(payload).serialized, into: &token)
        let signature = try key.algorithm.sign(token)
        token.append(UInt8(ascii: "."))
        Base64URL.encode(signature, into: &token)
        return String(decoding: token, as: UTF8.self)
    }

    public func verifySignature(_ token: String) async -> Result<VerificationClaims, TokenRejection> {
        switch verified(token) {
        case .failure(let rejection): return .failure(rejection)
        case .success(let (typ, members)):
            // Signed by one of our keys, so written by `sign`; unreadable only if it was signed by something else.
            guard typ == nil || typ == "JWT", members["aud"] == nil, let claims = try? VerificationClaims(json: .object(members)) else {
                return .failure(.malformed)
            }
            return .success(claims)
        }
    }

    public func verifyProfileToken(_ token: String, typ: String, audience: String) async -> Result<[String: JSONValue], TokenRejection> {
        switch verified(token) {
        case .failure(let rejection): return .failure(rejection)
        case .success(let (found, members)):
            guard found == typ, members["aud"] == .string(audience) else { return .failure(.malformed) }
            return .success(members)
        }
    }

    /// A compact JWS signed by one of our keys: its header `typ` and its payload members.
    private func verified(_ token: String) -> Result<(typ: String?, payload: [String: JSONValue]), TokenRejection> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 8192, parts.count == 3, parts.allSatisfy({ !$0.isEmpty }),
            let headerData = Base64URL.decode(String(parts[0])),
            case .object(let header)? = try? JSONParser.parse(Array(headerData)),
            let alg = Self.optionalString(header["alg"]), let kid = Self.optionalString(header["kid"]),
            let typ = Self.optionalString(header["typ"])
        else { return .failure(.malformed) }
        guard alg == algorithm else { return .failure(.unsupportedAlgorithm) }
        guard let kid, let key = keys.withLock({ $0.byKID[kid] })?.algorithm else { return .failure(.unknownKey) }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard let signature = Base64URL.decode(String(parts[2])), (try? key.verify(signature, signs: signingInput)) == true else {
            return .failure(.badSignature)
        }
        guard let payloadData = Base64URL.decode(String(parts[1])), case .object(let members)? = try? JSONParser.parse(Array(payloadData)) else {
            return .failure(.malformed)
        }
        return .success((typ, members))
    }

    /// The keys published now; sorted, so every instance serves byte-identical JWKS for the same keys.
    public func jwks() async throws -> [UInt8] {
        let published = keys.withLock { $0.published(at: clock.now()) }
        return JSONValue.object(["keys": .array(published.map(\.jwk))]).serialized
    }

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
