public import Crypto
import CryptoExtras
public import Foundation

/// Slow salted password hashes in PHC string format, for the ITR portal passwords the records store holds.
/// New hashes are scrypt (`$scrypt$ln=14,r=8,p=1$<salt>$<hash>`: 16 MiB and about 50 ms of one core, see
/// docs/compat/records.md); an import may also bring passlib/PHC `$pbkdf2-sha256$…` or `$scrypt$…` strings made
/// elsewhere, which verify as they are. Parameters are bounded so that an imported string cannot make one check
/// take seconds or gigabytes.
public enum PasswordHash {
    public struct Format: Error, Sendable, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// scrypt cost of new hashes: N = 2^14, r = 8, p = 1.
    public static let defaultLogN = 14
    static let maxLogN = 17
    static let maxPBKDF2Rounds = 5_000_000

    enum Algorithm: Equatable {
        case scrypt(logN: Int, r: Int, p: Int)
        case pbkdf2SHA256(rounds: Int)
    }

    struct Parsed {
        let algorithm: Algorithm
        let salt: [UInt8]
        let hash: [UInt8]
    }

    /// Whether `value` looks like a PHC string this type understands (an import takes such a value as a hash, any other
    /// value as a clear password).
    public static func isHashString(_ value: String) -> Bool { value.hasPrefix("$scrypt$") || value.hasPrefix("$pbkdf2-sha256$") }

    /// Checks a PHC string's form and parameters without running it.
    public static func validate(_ phc: String) throws(Format) { _ = try parse(phc) }

    /// A new scrypt hash of `password` with a random salt.
    public static func hash(_ password: String, random: any RandomSource, logN: Int = defaultLogN) throws -> String {
        let salt = random.bytes(16)
        let derived = try scrypt(Array(password.utf8), salt: salt, logN: logN, r: 8, p: 1, length: 32)
        return "$scrypt$ln=\(logN),r=8,p=1$\(b64(salt))$\(b64(derived))"
    }

    /// Whether `password` matches `phc`, in constant time over the derived bytes. A malformed string matches nothing.
    public static func verify(_ password: String, against phc: String) -> Bool {
        guard let parsed = try? parse(phc) else { return false }
        let derived: [UInt8]
        do {
            switch parsed.algorithm {
            case .scrypt(let logN, let r, let p):
                derived = try scrypt(Array(password.utf8), salt: parsed.salt, logN: logN, r: r, p: p, length: parsed.hash.count)
            case .pbkdf2SHA256(let rounds):
                let key = try KDF.Insecure.PBKDF2.deriveKey(
                    from: Array(password.utf8), salt: parsed.salt, using: .sha256, outputByteCount: parsed.hash.count,
                    unsafeUncheckedRounds: rounds)
                derived = key.withUnsafeBytes { Array($0) }
            }
        } catch {
            return false
        }
        var difference: UInt8 = 0
        for (a, b) in zip(derived, parsed.hash) { difference |= a ^ b }
        return difference == 0 && derived.count == parsed.hash.count
    }

    private static func scrypt(_ password: [UInt8], salt: [UInt8], logN: Int, r: Int, p: Int, length: Int) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(
            from: password, salt: salt, outputByteCount: length, rounds: 1 << logN, blockSize: r, parallelism: p,
            maxMemory: 256 * 1024 * 1024)
        return key.withUnsafeBytes { Array($0) }
    }

    static func parse(_ phc: String) throws(Format) -> Parsed {
        let parts = phc.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0].isEmpty else { throw Format(reason: "not a PHC string ($id$params$salt$hash)") }
        guard let salt = unb64(parts[3]), salt.count >= 8, salt.count <= 64 else { throw Format(reason: "salt is not 8 to 64 bytes of base64") }
        guard let hash = unb64(parts[4]), hash.count >= 16, hash.count <= 64 else { throw Format(reason: "hash is not 16 to 64 bytes of base64") }
        switch parts[1] {
        case "scrypt":
            var values: [String: Int] = [:]
            for item in parts[2].split(separator: ",") {
                let kv = item.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, let v = Int(kv[1]) else { throw Format(reason: "scrypt parameters must be ln=…,r=…,p=…") }
                values[String(kv[0])] = v
            }
            guard let logN = values["ln"], let r = values["r"], let p = values["p"], values.count == 3 else {
                throw Format(reason: "scrypt parameters must be ln=…,r=…,p=…")
            }
            // Half the memory `scrypt` may use, so a string that passes always fits (BoringSSL counts its buffers too).
            guard (10...maxLogN).contains(logN), (1...16).contains(r), (1...4).contains(p), (1 << logN) * 128 * r <= 128 * 1024 * 1024 else {
                throw Format(reason: "scrypt parameters out of range (ln 10…\(maxLogN), r 1…16, p 1…4, at most 128 MiB)")
            }
            return Parsed(algorithm: .scrypt(logN: logN, r: r, p: p), salt: salt, hash: hash)
        case "pbkdf2-sha256":
            // passlib writes the rounds bare (`29000`); the PHC form is `i=29000[,l=32]`.
            var roundsText = parts[2]
            if roundsText.hasPrefix("i=") { roundsText = String(roundsText.dropFirst(2).prefix { $0 != "," }) }
            guard let rounds = Int(roundsText), (1000...maxPBKDF2Rounds).contains(rounds) else {
                throw Format(reason: "pbkdf2-sha256 rounds must be 1000…\(maxPBKDF2Rounds)")
            }
            return Parsed(algorithm: .pbkdf2SHA256(rounds: rounds), salt: salt, hash: hash)
        default:
            throw Format(reason: "unsupported algorithm \(parts[1]) (scrypt or pbkdf2-sha256)")
        }
    }

    /// Standard base64 without padding (PHC).
    static func b64(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Standard or passlib's adapted base64 (`.` for `+`), padded or not.
    static func unb64(_ text: String) -> [UInt8]? {
        var standard = text.replacingAll(".", with: "+")
        guard !standard.isEmpty, !standard.contains("=") || standard.hasSuffix("=") else { return nil }
        while standard.count % 4 != 0 { standard.append("=") }
        return Data(base64Encoded: standard).map(Array.init)
    }
}
