/// Prefixed, opaque identifiers (`vrf_…`, `ten_…`, `key_…`): the prefix tells a reader what an id names,
/// the rest is 128 random bits in lowercase base32 so ids are unguessable and case-safe in URLs.
public enum Identifier {
    public static func make(_ prefix: String, random: any RandomSource) -> String {
        prefix + "_" + Base32.encode(random.bytes(16))
    }

    /// Whether `value` has the shape of an id with this prefix (used to answer 404 without a database trip).
    public static func isWellFormed(_ value: String, prefix: String) -> Bool {
        guard value.hasPrefix(prefix + "_") else { return false }
        let body = value.dropFirst(prefix.count + 1)
        return body.count == 26 && body.allSatisfy { Base32.alphabet.contains($0) }
    }
}

/// RFC 4648 base32 in lowercase without padding.
public enum Base32 {
    static let alphabet: [Character] = Array("abcdefghijklmnopqrstuvwxyz234567")

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = ""
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return out
    }
}
