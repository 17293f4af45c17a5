/// What a tenant's webhook endpoint can be told about.
public enum WebhookEventType: String, Sendable, CaseIterable, Comparable {
    case verificationApproved = "verification.approved"
    /// Every attempt was spent on wrong codes.
    case verificationFailed = "verification.failed"
    case verificationExpired = "verification.expired"
    /// A message failed for good (refused by the provider, its retries spent, or reported undelivered).
    case deliveryFailed = "delivery.failed"
    /// The conversion guard held a number prefix (`PumpingGuard`).
    case pumpingSuspected = "pumping.suspected"
    /// A send budget passed 80 % of its limit.
    case budgetWarning = "budget.warning"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// The event a check's write reports, if any: the verification as the check left it.
    public static func after(check v: Verification) -> WebhookEventType? {
        if v.state == .approved { return .verificationApproved }
        if v.state == .pending && v.attempts >= v.maxAttempts { return .verificationFailed }
        return nil
    }

    /// How an endpoint's subscription is stored: `,a,b,` (so one `instr`/`strpos` tells whether it takes a type).
    public static func stored(_ types: Set<WebhookEventType>) -> String { "," + types.sorted().map(\.rawValue).joined(separator: ",") + "," }

    public static func parse(stored text: String) -> Set<WebhookEventType> {
        Set(text.split(separator: ",").compactMap { WebhookEventType(rawValue: String($0)) })
    }
}

/// A tenant's webhook endpoint. Its signing secret (`whsec_…`) is sealed under the master key with the tenant id.
public struct WebhookEndpoint: Sendable, Equatable {
    public var tenantID: String
    public var url: String
    public var sealedSecret: [UInt8]
    public var events: Set<WebhookEventType>
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(
        tenantID: String, url: String, sealedSecret: [UInt8], events: Set<WebhookEventType>, createdAt: Timestamp, updatedAt: Timestamp
    ) {
        self.tenantID = tenantID
        self.url = url
        self.sealedSecret = sealedSecret
        self.events = events
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The delivery lifecycle of one webhook event.
public enum WebhookEventState: String, Sendable {
    case pending, sending, delivered, failed
}

/// One event for one tenant's endpoint, and what became of its delivery. It names the verification and the message,
/// never a destination or a code. Its id (`<verification or message id>.<type>`) is the `webhook-id` a receiver
/// deduplicates by, and it makes a second write of the same event a no-op.
public struct WebhookEvent: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var type: WebhookEventType
    public var verificationID: String
    public var messageID: String?
    public var channel: Channel?
    public var purpose: String?
    /// A delivery failure's reason as the outbox stored it (never the provider's free text).
    public var error: String?
    /// The data of an event about something other than a verification (a hold, a budget): a JSON object's text. Such
    /// an event has an empty `verificationID`.
    public var detail: String?
    public var state: WebhookEventState
    public var attempts: Int
    public var createdAt: Timestamp
    public var nextAttemptAt: Timestamp
    public var leaseUntil: Timestamp?
    /// The receiver's HTTP status on the last attempt, or the reason it could not answer.
    public var lastStatus: Int?
    public var lastError: String?
    public var finishedAt: Timestamp?

    public init(
        id: String, tenantID: String, type: WebhookEventType, verificationID: String, messageID: String? = nil, channel: Channel? = nil,
        purpose: String? = nil, error: String? = nil, detail: String? = nil, state: WebhookEventState = .pending, attempts: Int = 0,
        createdAt: Timestamp,
        nextAttemptAt: Timestamp, leaseUntil: Timestamp? = nil, lastStatus: Int? = nil, lastError: String? = nil, finishedAt: Timestamp? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.type = type
        self.verificationID = verificationID
        self.messageID = messageID
        self.channel = channel
        self.purpose = purpose
        self.error = error
        self.detail = detail
        self.state = state
        self.attempts = attempts
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.leaseUntil = leaseUntil
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.finishedAt = finishedAt
    }

    public static func id(subject: String, type: WebhookEventType) -> String { "\(subject).\(type.rawValue)" }

    /// The body POSTed to the endpoint (Standard Webhooks' shape: `type`, `timestamp`, `data`).
    public var body: [UInt8] {
        var data: [String: JSONValue] = [:]
        if let detail, case .object(let fields)? = try? JSONParser.parse(Array(detail.utf8)) { data = fields }
        if !verificationID.isEmpty { data["verification_id"] = .string(verificationID) }
        data["message_id"] = messageID.map(JSONValue.string)
        data["channel"] = channel.map { .string($0.rawValue) }
        data["purpose"] = purpose.map(JSONValue.string)
        data["error"] = error.map(JSONValue.string)
        return JSONValue.object([
            "type": .string(type.rawValue), "timestamp": .string(createdAt.iso8601), "data": .object(data),
        ]).serialized
    }
}

/// The outcome of one attempt to deliver a webhook event, fenced by the attempt its claim returned.
public struct WebhookResult: Sendable, Equatable {
    public var eventID: String
    public var attempt: Int
    public var state: WebhookEventState
    public var nextAttemptAt: Timestamp?
    public var status: Int?
    public var error: String?

    public init(eventID: String, attempt: Int, state: WebhookEventState, nextAttemptAt: Timestamp? = nil, status: Int? = nil, error: String? = nil) {
        self.eventID = eventID
        self.attempt = attempt
        self.state = state
        self.nextAttemptAt = nextAttemptAt
        self.status = status
        self.error = error
    }
}
