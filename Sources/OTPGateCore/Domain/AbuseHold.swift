/// A prefix of a tenant that new starts are refused for until `until` (`GET /v1/abuse/holds`).
public struct AbuseHold: Sendable, Equatable {
    public enum Reason: String, Sendable {
        case suspectedPumping = "suspected_pumping"
    }

    public var tenantID: String
    public var prefix: String
    public var reason: Reason
    /// The sends and approvals in the sliding hour when the hold was made.
    public var sends: Int
    public var approved: Int
    public var createdAt: Timestamp
    public var until: Timestamp

    public init(tenantID: String, prefix: String, reason: Reason, sends: Int, approved: Int, createdAt: Timestamp, until: Timestamp) {
        self.tenantID = tenantID
        self.prefix = prefix
        self.reason = reason
        self.sends = sends
        self.approved = approved
        self.createdAt = createdAt
        self.until = until
    }

    /// The subject of its `pumping.suspected` webhook event: one event per hold.
    public var subject: String { "hold_\(prefix.dropFirst())_\(createdAt.milliseconds)" }
}

extension AbuseHold {
    /// The data of the hold's `pumping.suspected` webhook event and of its listing: no number, only the prefix.
    public var json: JSONValue {
        .object([
            "prefix": .string(prefix), "reason": .string(reason.rawValue), "sends": .int(sends), "approved": .int(approved),
            "created_at": .string(createdAt.iso8601), "held_until": .string(until.iso8601),
        ])
    }
}
