/// The conversion guard against SMS pumping (toll fraud): bots start verifications to premium numbers and never check
/// a code. Per tenant and number prefix (country code and the first two national digits) it counts sends and
/// approvals over a sliding hour, in the store, so every instance sees one count; once a prefix has at least
/// `pumpingMinSends` sends and fewer than `pumpingMinApprovalPercent` % of them approved, new starts to it are held.
public enum PumpingGuard {
    /// Counts are kept per five-minute bucket, named by the second it ends; the sliding hour is the last twelve.
    public static let bucketSeconds: Int64 = 300
    public static let windowBuckets: Int64 = 12

    /// What a start or an approval is counted under: `+` country code and two national digits (`+9170`), or nil for a
    /// destination the guard does not watch (email, which costs next to nothing to send).
    public static func prefix(of destination: Destination) -> String? {
        guard destination.channel == .sms, let (code, national) = CallingCode.split(destination.value) else { return nil }
        return "+" + code + national.prefix(2)
    }

    /// The distinct watched prefixes of a start's destinations, in order.
    public static func prefixes(of destinations: [Destination?]) -> [String] {
        var prefixes: [String] = []
        for case let destination? in destinations {
            if let prefix = prefix(of: destination), !prefixes.contains(prefix) { prefixes.append(prefix) }
        }
        return prefixes
    }

    /// The bucket `now` falls in, named by the second it ends.
    public static func bucket(at now: Timestamp) -> Int64 { (now.seconds / bucketSeconds + 1) * bucketSeconds }

    /// The oldest bucket still in the sliding hour that ends with `now`'s bucket.
    public static func windowStart(at now: Timestamp) -> Int64 { bucket(at: now) - (windowBuckets - 1) * bucketSeconds }

    /// The counts a prefix is judged on start after its last hold ended: buckets ending after that second. A hold lasts
    /// at least one bucket, so those buckets began after the hold was made and hold no send that led to it: a hold
    /// shorter than the hour does not trip again at once. (A release clears the prefix's counts instead.)
    public static func countsSince(_ lastHold: AbuseHold?) -> Int64 { lastHold?.until.seconds ?? 0 }

    /// A prefix's counts over the sliding hour.
    public struct Traffic: Sendable, Equatable {
        public var sends: Int
        public var approved: Int
        public init(sends: Int, approved: Int) {
            self.sends = sends
            self.approved = approved
        }
    }

    /// Whether the prefix's traffic before this start calls for a hold. Deciding on the counts before the start (the
    /// store counts each start atomically, so they are strictly ordered on every instance) admits exactly
    /// `pumpingMinSends` unanswered sends.
    public static func trips(before traffic: Traffic, policy: Policy) -> Bool {
        policy.pumpingGuard && traffic.sends >= policy.pumpingMinSends
            && traffic.approved * 100 < policy.pumpingMinApprovalPercent * traffic.sends
    }

    /// The hold a trip writes.
    public static func hold(tenantID: String, prefix: String, traffic: Traffic, policy: Policy, now: Timestamp) -> AbuseHold {
        AbuseHold(
            tenantID: tenantID, prefix: prefix, reason: .suspectedPumping, sends: traffic.sends, approved: traffic.approved, createdAt: now,
            until: now + .seconds(policy.pumpingHoldSeconds))
    }
}
