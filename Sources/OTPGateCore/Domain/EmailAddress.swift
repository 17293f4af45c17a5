/// Single-address email validation and the one canonical form of an address. Refuses anything that could smuggle a
/// header or a second recipient (CR, LF, commas, semicolons, angle brackets, quotes, whitespace) and any character
/// outside the accepted ASCII syntax. The canonical form is the whole address lowercased; for Gmail
/// (`gmail.com`, `googlemail.com`) also without dots and without a `+tag` in the local part, since Gmail delivers
/// all those spellings to one mailbox. No other domain is folded.
public enum EmailAddress {
    /// Domains whose local parts ignore dots and `+tag` suffixes.
    static let gmailDomains: Set<Substring> = ["gmail.com", "googlemail.com"]

    private static let localAllowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-.")
    private static let domainAllowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")

    public static func normalize(_ raw: String) throws(DestinationError) -> String {
        let value = raw.trimmedSpaces
        guard !value.isEmpty else { throw DestinationError("is empty") }
        guard value.utf8.count <= 254 else { throw DestinationError("is longer than 254 characters") }
        // Printable ASCII bytes only: no control, space, line break, or any non-ASCII (invisible, combining) scalar.
        guard value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw DestinationError("must be a single ASCII address without spaces or line breaks")
        }
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw DestinationError("must contain exactly one '@'") }
        var local = Substring(parts[0].lowercased())
        let domain = parts[1].lowercased()
        guard (1...64).contains(local.count), local.allSatisfy({ localAllowed.contains($0) }),
            local.first != ".", local.last != ".", !local.contains("..")
        else { throw DestinationError("has an invalid local part") }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, domain.allSatisfy({ domainAllowed.contains($0) }),
            labels.allSatisfy({ (1...63).contains($0.count) && $0.first != "-" && $0.last != "-" }),
            let tld = labels.last, tld.count >= 2, tld.allSatisfy({ $0.isLetter })
        else { throw DestinationError("has an invalid domain") }
        if gmailDomains.contains(Substring(domain)) {
            local = local.prefix { $0 != "+" }.filter { $0 != "." }[...]
            guard !local.isEmpty else { throw DestinationError("has an invalid local part") }
            return "\(local)@gmail.com"
        }
        return "\(local)@\(domain)"
    }

    public static func mask(_ address: String) -> String {
        guard let at = address.firstIndex(of: "@") else { return "***" }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        let maskedLocal = String(local.prefix(1)) + "***"
        guard let dot = domain.lastIndex(of: ".") else { return maskedLocal + "@***" }
        let name = domain[..<dot]
        return maskedLocal + "@" + String(name.prefix(1)) + String(repeating: "*", count: max(1, name.count - 1)) + String(domain[dot...])
    }
}
