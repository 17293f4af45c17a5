/// A rendered message, ready for a provider. The only value in the system that carries a code in clear.
public struct OutgoingMessage: Sendable, Equatable {
    public var messageID: String
    public var tenantID: String
    public var verificationID: String
    public var channel: Channel
    public var destination: String
    public var subject: String?
    public var text: String

    public init(messageID: String, tenantID: String, verificationID: String, channel: Channel, destination: String, subject: String?, text: String) {
        self.messageID = messageID
        self.tenantID = tenantID
        self.verificationID = verificationID
        self.channel = channel
        self.destination = destination
        self.subject = subject
        self.text = text
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

    public var description: String { reason }
}

/// Hands a message to the world: the development console, an SMS gateway, an SMTP server.
/// The outbox worker calls `send` once per delivery attempt.
public protocol MessageSender: Sendable {
    /// A short name for logs and metrics (`console`, `discard`, …).
    var name: String { get }
    func send(_ message: OutgoingMessage) async throws
}
