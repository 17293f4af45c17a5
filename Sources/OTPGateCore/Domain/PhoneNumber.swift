/// E.164 normalisation, the one canonical form of a phone number. Indian numbers are the common case: a bare
/// 10-digit mobile number, `0` + 10 digits or `0091…` become `+91…`; any other country must be written with `+` and
/// its country code. Parsed from ASCII bytes only: a Unicode digit, an invisible or combining mark, or any other
/// character is refused, so no two spellings of one number become two destinations.
public enum PhoneNumber {
    public static func normalize(_ raw: String, defaultCountryCode: String) throws(DestinationError) -> String {
        let trimmed = raw.trimmedSpaces
        guard !trimmed.isEmpty else { throw DestinationError("is empty") }
        guard trimmed.utf8.count <= 32 else { throw DestinationError("is too long for a phone number") }
        var digits = ""
        var sawPlus = false
        for byte in trimmed.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "+") where digits.isEmpty && !sawPlus: sawPlus = true
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "."): continue
            default: throw DestinationError("must contain only ASCII digits, spaces, '-', '(', ')', '.' and a leading '+'")
            }
        }
        var international: String
        if sawPlus {
            international = digits
        } else if digits.hasPrefix("00") {
            international = String(digits.dropFirst(2))
        } else if digits.count == 11, digits.hasPrefix("0") {
            international = defaultCountryCode + digits.dropFirst()
        } else if digits.count == 10 {
            international = defaultCountryCode + digits
        } else {
            throw DestinationError("must be in E.164 form (+ and country code) or a 10-digit national number")
        }
        guard (8...15).contains(international.count), international.first != "0" else {
            throw DestinationError("is not a valid E.164 number (8 to 15 digits, no leading zero)")
        }
        if international.hasPrefix("91") {
            let national = international.dropFirst(2)
            guard national.count == 10, let first = national.first, "6"..."9" ~= first else {
                throw DestinationError("is not a valid Indian mobile number (+91 and 10 digits starting 6-9)")
            }
        }
        return "+" + international
    }

    /// The first three and last four characters kept, the rest starred: `+91******3210`.
    public static func mask(_ e164: String) -> String {
        // A stored number is ASCII: mask its bytes (every start and check masks one for its answer and its audit
        // entry; splitting it into Characters was 0.8 % of a start's CPU).
        let utf8 = e164.utf8
        if utf8.count > 7, utf8.allSatisfy({ $0 < 0x80 }) {
            return String(unsafeUninitializedCapacity: utf8.count) { buffer in
                var index = 0
                for byte in utf8 {
                    buffer[index] = index < 3 || index >= utf8.count - 4 ? byte : UInt8(ascii: "*")
                    index += 1
                }
                return index
            }
        }
        let chars = Array(e164)
        guard chars.count > 7 else { return String(repeating: "*", count: chars.count) }
        let head = chars.prefix(3)
        let tail = chars.suffix(4)
        return String(head) + String(repeating: "*", count: chars.count - 7) + String(tail)
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    var trimmedSpaces: String {
        var start = startIndex
        var end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return String(self[start..<end])
    }
}
