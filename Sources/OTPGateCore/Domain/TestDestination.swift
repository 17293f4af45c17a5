import Foundation

/// A destination of a tenant with a fixed code, for QA and app-store review: a start to it is never delivered and
/// its code is always this one. Kept on the tenant row (so a start learns of it with the API key, without another
/// read), keyed by the destination's blind index; the code sealed under the data key, the destination only masked.
public struct TestDestination: Sendable, Equatable {
    public var channel: Channel
    /// The destination as listings show it (`+91******9999`).
    public var masked: String
    public var sealedCode: [UInt8]
    /// Whether it works when `OTPGATE_ENV=production` (refused there otherwise).
    public var allowedInProduction: Bool
    public var createdAt: Timestamp

    public init(channel: Channel, masked: String, sealedCode: [UInt8], allowedInProduction: Bool, createdAt: Timestamp) {
        self.channel = channel
        self.masked = masked
        self.sealedCode = sealedCode
        self.allowedInProduction = allowedInProduction
        self.createdAt = createdAt
    }

    static let purpose = "test-destination-code"

    /// A fixed code's rules: 4 to 10 ASCII digits, as any code.
    public static func isValidCode(_ code: String) -> Bool {
        Policy.codeLengthRange.contains(code.count) && code.allSatisfy { $0.isASCII && $0.isNumber }
    }

    public static func seal(code: String, key: String, tenantID: String, with cipher: PersonalDataCipher) throws -> [UInt8] {
        try cipher.seal(Array(code.utf8), purpose: purpose, rowID: tenantID + ":" + key)
    }

    public func code(key: String, tenantID: String, with cipher: PersonalDataCipher) throws -> String {
        String(decoding: try cipher.open(sealedCode, purpose: Self.purpose, rowID: tenantID + ":" + key), as: UTF8.self)
    }

    /// A tenant's test destinations as stored on its row: `{"<key>": {"channel", "masked", "code", "production", "created_at"}}`,
    /// the sealed code in base64.
    public static func jsonText(_ all: [String: TestDestination]) -> String {
        JSONValue.object(
            all.mapValues { d in
                .object([
                    "channel": .string(d.channel.rawValue), "masked": .string(d.masked), "code": .string(Data(d.sealedCode).base64EncodedString()),
                    "production": .bool(d.allowedInProduction), "created_at": .int(Int(d.createdAt.milliseconds)),
                ])
            }
        ).canonicalText
    }

    /// Reads `jsonText`; an entry that does not read is left out (it then works as an ordinary destination).
    public static func parse(_ text: String) -> [String: TestDestination] {
        guard case .object(let entries)? = try? JSONParser.parse(Array(text.utf8)) else { return [:] }
        var out: [String: TestDestination] = [:]
        for (key, value) in entries {
            guard case .object(let o) = value, case .string(let channelName)? = o["channel"], let channel = Channel(rawValue: channelName),
                case .string(let masked)? = o["masked"], case .string(let code)? = o["code"], let sealed = Data(base64Encoded: code),
                case .bool(let production)? = o["production"], let created = o["created_at"]?.intValue
            else { continue }
            out[key] = TestDestination(
                channel: channel, masked: masked, sealedCode: Array(sealed), allowedInProduction: production,
                createdAt: Timestamp(milliseconds: Int64(created)))
        }
        return out
    }
}
