import Crypto
import Foundation

/// Authenticated encryption (AES-256-GCM) under a key derived from the master key for one purpose (HKDF): what
/// `MasterKeyRing` wraps the shared secrets with (the data key, the code-hashing key, the signing keys), so the
/// master key never seals anything but those.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    /// - Parameters:
    ///   - masterKey: 32 bytes from `OTPGATE_MASTER_KEY` or the key file.
    ///   - purpose: domain separation label, e.g. `"secrets"`.
    public init(masterKey: [UInt8], purpose: String) {
        self.key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: masterKey), salt: Array("otpgate".utf8), info: Array(purpose.utf8), outputByteCount: 32)
    }

    public func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        guard let combined = try AES.GCM.seal(plaintext, using: key).combined else { throw SecretBoxError.sealFailed }
        return Array(combined)
    }

    public func open(_ sealed: [UInt8]) throws -> [UInt8] {
        do {
            return Array(try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key))
        } catch {
            throw SecretBoxError.openFailed
        }
    }
}

public enum SecretBoxError: Error, Sendable, CustomStringConvertible {
    case sealFailed, openFailed
    public var description: String {
        switch self {
        case .sealFailed: "could not seal a secret"
        case .openFailed: "a sealed secret did not open: wrong master key or corrupted data"
        }
    }
}
