import Foundation
public import OTPGateCore

/// The 32-byte key that seals every secret at rest. From `OTPGATE_MASTER_KEY` when set; otherwise, for the
/// embedded SQLite default, from a key file beside the database, created with mode 0600 on first start.
/// PostgreSQL deployments must set it explicitly, since every instance needs the same key.
public enum MasterKey {
    /// The current master key and, during a rotation, the previous one.
    public static func ring(settings: ServerSettings, random: any RandomSource) throws -> MasterKeyRing {
        let current = try load(settings: settings, random: random)
        let previous = try settings.masterKeyPrevious.map(parse)
        if let previous, previous == current {
            throw ConfigurationError("OTPGATE_MASTER_KEY_PREVIOUS is the same key as the current master key")
        }
        return MasterKeyRing(current: current, previous: previous)
    }

    public static func load(settings: ServerSettings, random: any RandomSource) throws -> [UInt8] {
        if let value = settings.masterKey { return try parse(value) }
        let path: String
        if let file = settings.masterKeyFile {
            path = file
        } else if case .sqlite(let db) = settings.database {
            path = db + ".master-key"
        } else {
            throw ConfigurationError("OTPGATE_MASTER_KEY (or OTPGATE_MASTER_KEY_FILE) is required with PostgreSQL, so all instances share it")
        }
        return try loadOrCreate(path: path, random: random)
    }

    /// Accepts 64 hex digits or base64 of exactly 32 bytes.
    public static func parse(_ value: String) throws -> [UInt8] {
        let text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.count == 64, let bytes = Hex.decode(text) { return bytes }
        if let data = Data(base64Encoded: text), data.count == 32 { return Array(data) }
        throw ConfigurationError("the master key must be 32 bytes written as 64 hex digits or base64")
    }

    static func loadOrCreate(path: String, random: any RandomSource) throws -> [UInt8] {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            let attributes = try fm.attributesOfItem(atPath: path)
            if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
                throw ConfigurationError("master key file \(path) must not be readable by group or others (chmod 600)")
            }
            guard let text = fm.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
                throw ConfigurationError("cannot read master key file \(path)")
            }
            return try parse(text)
        }
        let key = random.bytes(32)
        let hex = key.map { String(format: "%02x", $0) }.joined() + "\n"
        // O_EXCL: if another process created the file first, read theirs instead of overwriting it.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd < 0 {
            if errno == EEXIST {
                // Another process created it first: read theirs. A name that exists but does not lead to a file
                // (a dangling symbolic link) would send this round for ever: refuse it instead.
                guard fm.fileExists(atPath: path) else {
                    throw ConfigurationError("master key file \(path) is a symbolic link to a missing file; remove it or point it at the key")
                }
                return try loadOrCreate(path: path, random: random)
            }
            throw ConfigurationError("cannot create master key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let written = hex.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, hex.utf8.count) }
        guard written == hex.utf8.count, fsync(fd) == 0 else { throw ConfigurationError("cannot write master key file \(path)") }
        return key
    }
}
