/// The rules about one destination of one tenant, shared by the start, check and resend deciders: the lock earned
/// by a run of failed checks, and how a check moves that run.
public enum DestinationRules {
    /// Refuses anything touching a destination that is locked after too many failed checks.
    public static func lockRefusal(lockedUntil: Timestamp?, now: Timestamp) -> VerificationError? {
        guard let until = lockedUntil, until > now else { return nil }
        return .destinationLocked(retryAfter: until - now)
    }

    /// The destination's record after one more failed check: the run grows (or restarts if its window passed),
    /// and reaching the threshold locks the destination and starts a new run.
    public static func afterFailedCheck(_ state: DestinationState, now: Timestamp, policy: Policy) -> DestinationState {
        var next = state
        if let first = next.firstFailureAt, now - first < .seconds(policy.failureWindowSeconds) {
            next.failedChecks += 1
        } else {
            next.failedChecks = 1
            next.firstFailureAt = now
        }
        if next.failedChecks >= min(policy.failedChecksBeforeLock, Policy.failedChecksCeiling) {
            next.lockedUntil = now + .seconds(policy.lockSeconds)
            next.failedChecks = 0
            next.firstFailureAt = nil
        }
        return next
    }

    /// A successful check ends the run of failures; `nil` when there was none (nothing to write).
    public static func afterApproval(_ state: DestinationState) -> DestinationState? {
        guard state.failedChecks > 0 else { return nil }
        var next = state
        next.failedChecks = 0
        next.firstFailureAt = nil
        return next
    }
}
