/// Decides a cancel. Rules: the tenant, then the state — a verification whose attempts are spent can still be
/// canceled; an approved, canceled or expired one cannot. Undelivered codes are erased.
public enum CancelDecider {
    public enum Decision: Sendable, Equatable {
        case apply(Writes)
        case refuse(VerificationError)
    }

    public struct Writes: Sendable, Equatable {
        public var verification: Verification
        public var supersedesMessagesOf: String
    }

    public static func decide(tenantID: String, now: Timestamp, verification: Verification?) -> Decision {
        guard let v = verification, v.tenantID == tenantID else { return .refuse(.notFound) }
        switch v.state {
        case .approved: return .refuse(.alreadyApproved)
        case .canceled: return .refuse(.canceled)
        case .expired: return .refuse(.expired)
        case .pending: if now >= v.expiresAt { return .refuse(.expired) }
        }
        var next = v
        next.state = .canceled
        next.updatedAt = now
        return .apply(Writes(verification: next, supersedesMessagesOf: v.id))
    }
}
