/// A validated, normalised recipient: an E.164 phone number or a single email address.
/// The full value is stored (delivery and token claims need it) but only `masked` is ever rendered or logged.
public struct Destination: Sendable, Hashable {
    public let channel: Channel
    /// E.164 (`+919876543210`) or a lowercased-domain email address.
    public let value: String

    public init(unchecked value: String, channel: Channel) {
        self.value = value
        self.channel = channel
    }

    /// Parses `raw` for `channel`, or explains what is wrong (never echoing the input).
    public static func parse(_ raw: String, channel: Channel, defaultCountryCode: String = "91") throws(DestinationError) -> Destination {
        switch channel {
        case .sms: return Destination(unchecked: try PhoneNumber.normalize(raw, defaultCountryCode: defaultCountryCode), channel: .sms)
        case .email: return Destination(unchecked: try EmailAddress.normalize(raw), channel: .email)
        }
    }

    /// A form that identifies the destination to its owner without disclosing it: `+91******3210`, `r***@e******.com`.
    public var masked: String {
        switch channel {
        case .sms: PhoneNumber.mask(value)
        case .email: EmailAddress.mask(value)
        }
    }
}

public struct DestinationError: Error, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
