public import OTPGateCore

/// Which sender delivers each channel, decided once at start-up from the settings (`DeliverySetup` in the server).
/// A channel with no sender is not served: the engine refuses starts on it (`channel_unavailable`).
public struct DeliveryRoutes: Sendable {
    public let senders: [Channel: any MessageSender]

    public init(_ senders: [Channel: any MessageSender]) { self.senders = senders }

    /// One sender for every channel: the console or discard in development and benchmarks, a test's recorder.
    public init(every sender: any MessageSender) {
        self.init(Dictionary(uniqueKeysWithValues: Channel.allCases.map { ($0, sender) }))
    }

    public func sender(for channel: Channel) -> (any MessageSender)? { senders[channel] }

    public var servedChannels: Set<Channel> { Set(senders.keys) }

    /// `email=smtp sms=twilio`, for the start-up line.
    public var summary: String {
        Channel.allCases.map { "\($0.rawValue)=\(senders[$0]?.name ?? "unavailable")" }.joined(separator: " ")
    }
}
