/// The country calling code of an E.164 number. Calling codes are prefix-free (ITU-T E.164 assignments): two codes
/// have one digit (1, 7), a fixed list has two, and every other code has three, so the code is read off the digits.
public enum CallingCode {
    /// The two-digit calling codes; a number starting with any other pair (and not 1 or 7) has a three-digit code.
    static let twoDigit: Set<Substring> = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49", "51", "52", "53",
        "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94",
        "95", "98",
    ]

    /// The calling code and the national number of `e164` (`+919876543210` → `91`, `9876543210`), or nil when it is
    /// not in E.164 form.
    public static func split(_ e164: String) -> (code: Substring, national: Substring)? {
        guard e164.hasPrefix("+") else { return nil }
        let digits = e164.dropFirst()
        guard digits.count >= 4, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let length: Int
        if digits.first == "1" || digits.first == "7" {
            length = 1
        } else if twoDigit.contains(digits.prefix(2)) {
            length = 2
        } else {
            length = 3
        }
        return (digits.prefix(length), digits.dropFirst(length))
    }
}
