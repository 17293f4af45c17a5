import Crypto

/// API keys: `otpg_` and 256 random bits. Only the SHA-256 is stored; a key is shown once, at creation.
public enum APIKey {
    public static let prefix = "otpg_"

    public static func generate(random: any RandomSource) -> String {
        prefix + Base32.encode(random.bytes(32))
    }

    public static func hash(_ key: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(key.utf8)))
    }

    /// The non-secret beginning of a key, to tell keys apart in listings.
    public static func displayPrefix(_ key: String) -> String { String(key.prefix(prefix.count + 6)) }

    /// Whether `value` has the shape of a key, so malformed credentials never reach the store.
    public static func isWellFormed(_ value: String) -> Bool {
        value.utf8.count == prefix.utf8.count + 52 && value.utf8.starts(with: prefix.utf8)
            && Base32.isLowercaseBase32(value.utf8.dropFirst(prefix.utf8.count))
    }
}
