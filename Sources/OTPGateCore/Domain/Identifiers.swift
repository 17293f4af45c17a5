/// Prefixed, opaque identifiers (`vrf_…`, `ten_…`, `key_…`): the prefix tells a reader what an id names,
/// the rest is 16 bytes in lowercase base32, case-safe in URLs.
public enum Identifier {
    /// 128 random bits.
    public static func make(_ prefix: String, random: any RandomSource) -> String {
        prefix + "_" + Base32.encode(random.bytes(16))
    }

    /// A time-ordered id: 48 bits of milliseconds, then 80 random bits (like a ULID). Ids made later sort later,
    /// so inserts append to the primary-key index instead of dirtying a random page per row; 80 random bits
    /// keep them unguessable. The creation time can be read from the id, which is no secret.
    public static func make(_ prefix: String, random: any RandomSource, at time: Timestamp) -> String {
        let ms = UInt64(max(0, time.milliseconds))
        let timeBytes = (0..<6).map { UInt8(truncatingIfNeeded: ms >> (40 - 8 * UInt64($0))) }
        return prefix + "_" + Base32.encode(timeBytes + random.bytes(10))
    }

    /// Whether `value` has the shape of an id with this prefix (used to answer 404 without a database trip).
    public static func isWellFormed(_ value: String, prefix: String) -> Bool {
        // Byte-wise: every check and start asks, and a Character-wise search of the alphabet cost a check 1 % of its CPU.
        let utf8 = value.utf8
        guard utf8.count == prefix.utf8.count + 27, utf8.starts(with: prefix.utf8) else { return false }
        let separator = utf8.index(utf8.startIndex, offsetBy: prefix.utf8.count)
        return utf8[separator] == UInt8(ascii: "_") && Base32.isLowercaseBase32(utf8[utf8.index(after: separator)...])
    }
}

/// RFC 4648 base32 in lowercase without padding.
public enum Base32 {
    static let alphabet: [Character] = Array("abcdefghijklmnopqrstuvwxyz234567")

    /// Whether every byte is a letter of the lowercase alphabet (`a`–`z`, `2`–`7`).
    static func isLowercaseBase32(_ bytes: Substring.UTF8View) -> Bool {
        bytes.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "2")...UInt8(ascii: "7")).contains($0) }
    }

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

/// Lowercase hexadecimal, and the 8-4-4-4-12 form of 16 bytes that UUIDs are written in (the caller sets the version bits).
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Hexadecimal digits (either case) to bytes; nil for an odd count or a non-digit.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        for i in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = value(utf8[i]), let low = value(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    public static func uuidText(_ bytes: [UInt8]) -> String {
        let h = encode(bytes)
        return [h.prefix(8), h.dropFirst(8).prefix(4), h.dropFirst(12).prefix(4), h.dropFirst(16).prefix(4), h.dropFirst(20)].joined(separator: "-")
    }
}
