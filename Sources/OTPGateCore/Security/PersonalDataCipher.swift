public import Crypto
public import Foundation

/// Personal data at rest: seals fields (destinations, a verification's reference and context, outbox payloads) and
/// computes the keyed blind indexes that lookups use instead of the values. The one mechanism for every table that
/// holds personal data, so a database file, a WAL or a dump shows neither a destination nor anything said about it.
///
/// Both subkeys come from one random data key, stored in the store wrapped by the master key (`MasterKeyRing`), so
/// rotating the master key re-wraps one small secret and never touches a row.
public struct PersonalDataCipher: Sendable {
    /// The first byte of every sealed value: the format, so a later one can be told apart.
    static let formatVersion: UInt8 = 1
    private let sealingKey: SymmetricKey
    /// HMACs with their key already absorbed: each index or digest copies one and hashes only its input.
    private let indexMAC: HMAC<SHA256>
    private let digestMAC: HMAC<SHA256>
    /// Where each seal's 96-bit nonce comes from. Given explicitly: left to itself, BoringSSL asked the kernel for
    /// fresh entropy on every seal (a system call per sealed field).
    private let random: any RandomSource

    /// - Parameter dataKey: the 32 random bytes stored (wrapped) as the secret `data-key`.
    public init(dataKey: [UInt8], random: any RandomSource = SystemRandomSource()) {
        self.random = random
        let material = SymmetricKey(data: dataKey)
        sealingKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: material, salt: Array("otpgate".utf8), info: Array("personal-data-seal".utf8), outputByteCount: 32)
        indexMAC = HMAC(
            key: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: material, salt: Array("otpgate".utf8), info: Array("personal-data-index".utf8), outputByteCount: 32))
        digestMAC = HMAC(
            key: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: material, salt: Array("otpgate".utf8), info: Array("request-digest".utf8), outputByteCount: 32))
    }

    /// AES-256-GCM with `purpose` and `rowID` as associated data: a sealed value copied into another row, or used for
    /// another purpose, does not open.
    public func seal(_ plaintext: [UInt8], purpose: String, rowID: String) throws -> [UInt8] {
        do {
            let box = try AES.GCM.seal(
                plaintext, using: sealingKey, nonce: try AES.GCM.Nonce(data: random.bytes(12)),
                authenticating: Self.associatedData(purpose, rowID))
            guard let combined = box.combined else { throw SecretBoxError.sealFailed }
            var out: [UInt8] = []
            out.reserveCapacity(1 + combined.count)
            out.append(Self.formatVersion)
            out.append(contentsOf: combined)
            return out
        } catch {
            throw SecretBoxError.sealFailed
        }
    }

    public func open(_ sealed: [UInt8], purpose: String, rowID: String) throws -> [UInt8] {
        guard sealed.first == Self.formatVersion else { throw SecretBoxError.openFailed }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
            return Array(try AES.GCM.open(box, using: sealingKey, authenticating: Self.associatedData(purpose, rowID)))
        } catch {
            throw SecretBoxError.openFailed
        }
    }

    /// The value a store keys a canonical destination (or any other looked-up field) by: HMAC-SHA256 under the index
    /// key over the tenant, the kind of value and the value, 128 bits in hex. Equal inputs give equal indexes, so
    /// limits, lockouts and windows still meet; without the data key nobody can tell which value an index stands for,
    /// and one tenant's index says nothing about another's.
    public func blindIndex(tenantID: String, kind: String, value: String) -> String {
        var input = Array(tenantID.utf8)
        input.append(0x1F)
        input.append(contentsOf: kind.utf8)
        input.append(0x1F)
        input.append(contentsOf: value.utf8)
        var mac = indexMAC
        mac.update(data: input)
        var text = Array(Self.indexPrefix.utf8)
        text.reserveCapacity(text.count + 32)
        for byte in mac.finalize().prefix(16) {
            text.append(Self.hexDigits[Int(byte >> 4)])
            text.append(Self.hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// A keyed digest of a whole request (HMAC-SHA256): what an idempotency record keeps to recognise a repeat. Keyed,
    /// because the request holds a destination, which an unkeyed hash would let anyone confirm by guessing.
    public func requestDigest(_ bytes: [UInt8]) -> [UInt8] {
        var mac = digestMAC
        mac.update(data: bytes)
        return Array(mac.finalize())
    }

    /// Every blind index starts with this, so one is never mistaken for a value written before encryption at rest.
    public static let indexPrefix = "bi1:"

    private static func associatedData(_ purpose: String, _ rowID: String) -> [UInt8] {
        Array(purpose.utf8) + [0x1F] + Array(rowID.utf8)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
