import OTPGateCore

/// Ids in the vendors' formats: `itr_` + 20 letters, a CKYC v3 `request_id` of 8 digits.
enum VendorIdentifier {
    static let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    /// `prefix` followed by `count` random letters (Surepass's client ids look like `itr_HgCSFcWUnhynhGAKBiha`).
    static func letters(prefix: String, count: Int = 20, random: any RandomSource) -> String {
        var out = prefix
        for _ in 0..<count { out.append(letters[Int(random.uniform(below: UInt64(letters.count)))]) }
        return out
    }

    /// `count` random digits, the first not zero.
    static func digits(count: Int, random: any RandomSource) -> String {
        var out = String(1 + random.uniform(below: 9))
        for _ in 1..<count { out += String(random.uniform(below: 10)) }
        return out
    }

    /// Whether `value` is `prefix` followed by `count` ASCII letters (anything else cannot be an id we issued).
    static func isWellFormed(_ value: String, prefix: String, count: Int = 20) -> Bool {
        guard value.hasPrefix(prefix) else { return false }
        let rest = value.utf8.dropFirst(prefix.utf8.count)
        return rest.count == count && rest.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
    }
}
