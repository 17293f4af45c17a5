/// What happens to a fallback message (`<verification>.<send>.3`, the same code on another channel, written waiting
/// until `fallbackAfterSeconds` after the send). It is released at once when the first message fails for good or is
/// reported failed; it is dropped when the first message is reported delivered, or accepted by a provider that sends
/// no delivery reports (its acceptance is all the proof there will be); otherwise it goes out when its time comes.
/// The stores apply these steps in the same statement or transaction as the outcome that causes them.
public enum FallbackDecider {
    public enum Step: String, Sendable, Equatable {
        /// Make the fallback due now.
        case release
        /// The fallback is not needed: it is superseded and its payload erased.
        case supersede
    }

    /// The fallback message of `messageID`: only a send's first message (`<vrf>.<send>`) has one.
    public static func fallbackID(of messageID: String) -> String { messageID + ".\(NewOutboxMessage.fallbackPart)" }

    public static func step(after result: DeliveryResult) -> Step? {
        guard result.hasFallback, isFirstMessage(result.messageID) else { return nil }
        switch result.outcome {
        case .sent: return result.awaitsReport ? nil : .supersede
        case .failed: return .release
        case .retry, .expired: return nil
        }
    }

    public static func step(after report: DeliveryReport) -> Step { report.delivered ? .supersede : .release }

    /// `<vrf>.<send>`, not a companion's or a fallback's message.
    static func isFirstMessage(_ id: String) -> Bool { id.utf8.count(where: { $0 == UInt8(ascii: ".") }) == 1 }
}
