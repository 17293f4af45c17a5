/// How an SMS travels: GSM 03.38's 7-bit alphabet (160 characters, or 153 per part when split) when every character
/// is in it, else UCS-2 (70 UTF-16 units, or 67 per part), as in Hindi. The count is what a sender is billed for.
public enum SMSEncoding: String, Sendable {
    case gsm7 = "GSM-7"
    case ucs2 = "UCS-2"

    public init(_ text: String) {
        self = text.unicodeScalars.allSatisfy { Self.basic.contains($0) || Self.extended.contains($0) } ? .gsm7 : .ucs2
    }

    /// The number of parts the text is sent in.
    public func segments(_ text: String) -> Int {
        switch self {
        case .gsm7:
            // An extension character costs an escape and itself.
            let septets = text.unicodeScalars.reduce(0) { $0 + (Self.extended.contains($1) ? 2 : 1) }
            return septets <= 160 ? 1 : (septets + 152) / 153
        case .ucs2:
            let units = text.utf16.count
            return units <= 70 ? 1 : (units + 66) / 67
        }
    }

    static let basic: Set<Unicode.Scalar> = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
            .unicodeScalars)
    static let extended: Set<Unicode.Scalar> = Set("^{}\\[~]|€\u{0C}".unicodeScalars)
}
