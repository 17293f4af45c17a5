/// Turns an outbox payload into the words a person receives. The code comes first so phones can offer it
/// for autofill; the text warns against sharing it, as Indian banking regulators expect.
public struct MessageRenderer: Sendable {
    public var brand: String

    public init(brand: String = "OTPGate") { self.brand = brand }

    public func render(_ payload: MessagePayload, channel: Channel) -> (subject: String?, text: String) {
        let minutes = max(1, (payload.ttlSeconds + 59) / 60)
        let what = payload.purpose.map { "\($0) verification code" } ?? "verification code"
        let text = "\(payload.code) is your \(brand) \(what). It expires in \(minutes) minute\(minutes == 1 ? "" : "s"). Do not share it with anyone."
        switch channel {
        case .sms: return (nil, text)
        case .email: return ("Your \(brand) verification code", text)
        }
    }
}
