/// A rendered message, ready for a provider. The only value in the system that carries a code in clear.
public struct OutgoingMessage: Sendable, Equatable {
    public var messageID: String
    public var tenantID: String
    public var verificationID: String
    public var channel: Channel
    public var destination: String
    public var subject: String?
    public var text: String
    /// An HTML alternative of `text` (email only).
    public var html: String?
    /// India's DLT content template id the text was registered under (SMS only): gateways refuse an SMS to an Indian
    /// number whose text does not match a registered template.
    public var dltTemplateID: String?

    public init(
        messageID: String, tenantID: String, verificationID: String, channel: Channel, destination: String, subject: String?, text: String,
        html: String? = nil, dltTemplateID: String? = nil
    ) {
        self.messageID = messageID
        self.tenantID = tenantID
        self.verificationID = verificationID
        self.channel = channel
        self.destination = destination
        self.subject = subject
        self.text = text
        self.html = html
        self.dltTemplateID = dltTemplateID
    }
}

/// What a provider said when it took a message.
public struct SendReceipt: Sendable, Equatable {
    /// The provider's id for the message (Twilio's `SM…` sid, MSG91's request id, the SMTP server's queue id), kept
    /// with the message so a delivery report can find it; `nil` when the provider gives none.
    public var providerMessageID: String?
    /// Whether the provider will report the message delivered or failed (a delivery-report callback is configured). A
    /// fallback message waits for that report; when none will come, the provider's acceptance settles it.
    public var awaitsReport: Bool

    public init(providerMessageID: String? = nil, awaitsReport: Bool = false) {
        self.providerMessageID = providerMessageID
        self.awaitsReport = awaitsReport
    }
}

/// A delivery failure. `retryable` failures are tried again with backoff; others fail the message at once.
public struct DeliveryError: Error, Sendable, Equatable, CustomStringConvertible {
    public var retryable: Bool
    /// A reason safe to store and log: never the destination, the text or a credential.
    public var reason: String

    public init(retryable: Bool, reason: String) {
        self.retryable = retryable
        self.reason = reason
    }

    public static func retryable(_ reason: String) -> DeliveryError { DeliveryError(retryable: true, reason: reason) }
    public static func permanent(_ reason: String) -> DeliveryError { DeliveryError(retryable: false, reason: reason) }

    public var description: String { reason }
}

/// Hands a message to the world: the development console, an SMS gateway, an SMTP server.
/// The outbox worker calls `send` once per delivery attempt; a thrown `DeliveryError` says whether to retry.
public protocol MessageSender: Sendable {
    /// A short name for logs, metrics and a message's delivery status (`console`, `smtp`, `twilio`, …).
    var name: String { get }
    func send(_ message: OutgoingMessage) async throws -> SendReceipt
}
