/// What a provider reported about a message it took: delivered to the handset or mailbox, or not.
public struct DeliveryReport: Sendable, Equatable {
    public var provider: String
    public var providerMessageID: String
    public var delivered: Bool
    /// The provider's reason for a failure, safe to store (a code, never the text).
    public var error: String?

    public init(provider: String, providerMessageID: String, delivered: Bool, error: String? = nil) {
        self.provider = provider
        self.providerMessageID = providerMessageID
        self.delivered = delivered
        self.error = error
    }
}

/// A delivery-report callback as it arrived, for a reader to authenticate and parse.
public struct DeliveryReportRequest: Sendable {
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]
    /// The secret path segment, for a provider that signs nothing (MSG91).
    public var token: String?

    public init(headers: [String: String], body: [UInt8], token: String? = nil) {
        self.headers = headers
        self.body = body
        self.token = token
    }
}

/// Reads one provider's delivery-report callbacks, checking the signature the provider documents.
public protocol DeliveryReportReader: Sendable {
    var provider: String { get }
    /// The reports in the request, or `nil` when it is not authentic (a missing or wrong signature or token).
    /// A well-signed report of a state that is not final (queued, sending) yields no report.
    func reports(in request: DeliveryReportRequest, now: Timestamp) -> [DeliveryReport]?
}

/// Applies reports to the outbox.
public protocol DeliveryReportStore: Sendable {
    /// Marks each reported message `delivered` or `failed`, if it is `sent` (a report never reopens a message, and a
    /// late or repeated one changes nothing). Returns how many messages changed.
    func recordDeliveryReports(_ reports: [DeliveryReport], now: Timestamp) async throws -> Int
}
