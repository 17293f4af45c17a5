import Crypto
import Foundation
import JWTKit
import OTPGateCore

/// One signing key as the signer uses it: its ECDSA, its activation time, its JOSE header and its public JWK.
struct SigningKey: Sendable {
    let name: String
    let kid: String
    let activatesAt: Timestamp
    let algorithm: any JWTAlgorithm
    /// `base64url(header).`: the same for every token this key signs.
    let headerPrefix: [UInt8]
    let jwk: JSONValue
}

/// Every stored signing key, oldest activation first, and which of them sign and are published when.
struct SigningKeys: Sendable {
    let all: [SigningKey]
    let byKID: [String: SigningKey]

    init(all: [SigningKey]) {
        self.all = all.sorted { ($0.activatesAt, $0.name) < ($1.activatesAt, $1.name) }
        self.byKID = Dictionary(all.map { ($0.kid, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The newest key active at `time` (the oldest key if none is yet).
    func active(at time: Timestamp) -> SigningKey {
        all.last { $0.activatesAt <= time } ?? all[0]
    }

    /// The keys a verifier needs at `time`: those not yet active, the active one, and each earlier one until
    /// `JWTTokenSigner.maximumTokenLifetime` after the key that replaced it became active.
    func published(at time: Timestamp) -> [SigningKey] {
        let active = active(at: time)
        return all.enumerated().filter { index, key in
            if key.activatesAt > time || key.kid == active.kid { return true }
            guard index + 1 < all.count else { return true }
            let replacedAt = all[index + 1].activatesAt
            return replacedAt > time || time < replacedAt + JWTTokenSigner.maximumTokenLifetime
        }.map(\.element).sorted { $0.kid < $1.kid }
    }

    /// The stored keys, reusing the already opened ones in `known`.
    static func load(store: any SecretStore, master: MasterKeyRing, known: SigningKeys) async throws -> SigningKeys {
        let knownByName = Dictionary(known.all.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var keys: [SigningKey] = []
        for (name, sealed) in try await store.secrets(prefix: JWTTokenSigner.namePrefix) {
            if let key = knownByName[name] {
                keys.append(key)
                continue
            }
            let pem: String
            do {
                pem = String(decoding: try master.open(sealed), as: UTF8.self)
            } catch {
                throw StoreError(.corrupt, "the signing key \(name) does not open under the master key")
            }
            keys.append(try await open(name: name, pem: pem))
        }
        guard !keys.isEmpty else { throw StoreError(.corrupt, "no signing key is stored") }
        return SigningKeys(all: keys)
    }

    /// The first key (`signing-key:0001`) is active from the start; a rotated key's name carries its activation time
    /// in milliseconds.
    static func activation(ofName name: String) -> Timestamp {
        let suffix = name.dropFirst(JWTTokenSigner.namePrefix.count)
        guard suffix.count == 13, let milliseconds = Int64(suffix) else { return Timestamp(milliseconds: 0) }
        return Timestamp(milliseconds: milliseconds)
    }

    private static func open(name: String, pem: String) async throws -> SigningKey {
        let key = try ES256PrivateKey(pem: pem)
        guard let parameters = key.publicKey.parameters else { throw StoreError(.corrupt, "a stored signing key has no public parameters") }
        let kid = JWTTokenSigner.keyID(x: parameters.x, y: parameters.y)
        var headerPrefix: [UInt8] = []
        Base64URL.encode(JSONValue.object(["alg": .string("ES256"), "kid": .string(kid), "typ": .string("JWT")]).serialized, into: &headerPrefix)
        headerPrefix.append(UInt8(ascii: "."))
        // RFC 7517/7518 members of a public EC key (what jwt-kit's JWK encodes for `.ecdsa(.es256, …)`).
        let jwk = JSONValue.object([
            "kty": .string("EC"), "alg": .string("ES256"), "crv": .string("P-256"), "kid": .string(kid),
            "x": .string(parameters.x), "y": .string(parameters.y),
        ])
        let collection = JWTKeyCollection()
        await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        return SigningKey(
            name: name, kid: kid, activatesAt: activation(ofName: name), algorithm: try await collection.getKey(for: JWKIdentifier(string: kid)),
            headerPrefix: headerPrefix, jwk: jwk)
    }
}
