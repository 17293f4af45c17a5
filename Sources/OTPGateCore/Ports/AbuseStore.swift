/// The conversion guard's counts and holds (`PumpingGuard`), shared by every instance. Each call is one atomic step
/// of its own, so no request's transaction ever waits on a prefix's hot counter row.
public protocol AbuseStore: Sendable {
    /// Refuses a start to a held prefix, or counts it and decides with `PumpingGuard.trips` on the counts before it
    /// (those since the prefix's last hold ended); a trip writes the hold, its `pumping.suspected` webhook event and
    /// (with `audit`) its audit entry together.
    func admitPrefixStart(_ start: PrefixStart) async throws -> PrefixAdmission
    /// Counts an approved verification to `prefix` in the bucket of `now`.
    func recordPrefixApproval(tenantID: String, prefix: String, now: Timestamp) async throws
    /// The tenant's holds in force at `now`, newest first.
    func abuseHolds(tenantID: String, now: Timestamp) async throws -> [AbuseHold]
    /// Takes back the count of an admitted start that sent nothing (refused by a later rule, or a replay).
    func uncountPrefixStart(tenantID: String, prefix: String, now: Timestamp) async throws
    /// Ends a hold in force early (an operator who has looked at the traffic) and clears the prefix's counts, so it is
    /// judged afresh. Whether there was one. The audit entry (nil with auditing off) is written with the release.
    func releaseAbuseHold(tenantID: String, prefix: String, now: Timestamp, audit: AuditEntry?) async throws -> Bool
}

/// One start to a watched prefix, with the policy it is judged by.
public struct PrefixStart: Sendable {
    public var tenantID: String
    public var prefix: String
    public var now: Timestamp
    public var policy: Policy
    /// The request whose start may trip the guard (nil with auditing off): a hold it makes is audited as the system's.
    public var audit: AuditActor?

    public init(tenantID: String, prefix: String, now: Timestamp, policy: Policy, audit: AuditActor? = nil) {
        self.tenantID = tenantID
        self.prefix = prefix
        self.now = now
        self.policy = policy
        self.audit = audit
    }

    /// The audit entry of the hold this start made.
    public func holdEntry(_ hold: AbuseHold) -> AuditEntry? {
        audit.map {
            AuditActor.system(requestID: $0.requestID).entry(
                AuditAction.holdMade, tenantID: hold.tenantID, subject: hold.prefix, at: hold.createdAt,
                detail: ["sends": .int(hold.sends), "approved": .int(hold.approved), "until": .string(hold.until.iso8601)])
        }
    }
}

public enum PrefixAdmission: Sendable, Equatable {
    case admitted
    /// Refused: a hold was already in force.
    case held(AbuseHold)
    /// Refused: this start tripped the guard and made the hold.
    case tripped(AbuseHold)
}
