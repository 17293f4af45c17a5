/// The conversion guard's counts and holds (`PumpingGuard`), shared by every instance. Each call is one atomic step
/// of its own, so no request's transaction ever waits on a prefix's hot counter row.
public protocol AbuseStore: Sendable {
    /// Refuses a start to a held prefix, or counts it and decides with `PumpingGuard.trips` on the counts before it
    /// (those since the prefix's last hold ended); a trip writes the hold and its `pumping.suspected` webhook event
    /// together.
    func admitPrefixStart(_ start: PrefixStart) async throws -> PrefixAdmission
    /// Counts an approved verification to `prefix` in the bucket of `now`.
    func recordPrefixApproval(tenantID: String, prefix: String, now: Timestamp) async throws
    /// The tenant's holds in force at `now`, newest first.
    func abuseHolds(tenantID: String, now: Timestamp) async throws -> [AbuseHold]
    /// Takes back the count of an admitted start that sent nothing (refused by a later rule, or a replay).
    func uncountPrefixStart(tenantID: String, prefix: String, now: Timestamp) async throws
    /// Ends a hold in force early (an operator who has looked at the traffic) and clears the prefix's counts, so it is
    /// judged afresh. Whether there was one.
    func releaseAbuseHold(tenantID: String, prefix: String, now: Timestamp) async throws -> Bool
}

/// One start to a watched prefix, with the policy it is judged by.
public struct PrefixStart: Sendable {
    public var tenantID: String
    public var prefix: String
    public var now: Timestamp
    public var policy: Policy

    public init(tenantID: String, prefix: String, now: Timestamp, policy: Policy) {
        self.tenantID = tenantID
        self.prefix = prefix
        self.now = now
        self.policy = policy
    }
}

public enum PrefixAdmission: Sendable, Equatable {
    case admitted
    /// Refused: a hold was already in force.
    case held(AbuseHold)
    /// Refused: this start tripped the guard and made the hold.
    case tripped(AbuseHold)
}
