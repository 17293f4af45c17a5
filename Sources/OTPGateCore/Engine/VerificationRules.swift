import Foundation

/// The decisions about a verification, as pure functions of its state, the time and the policy.
/// Every store runs these inside its transaction, so each backend decides exactly alike;
/// the conformance suite shows they do.
public enum VerificationRules {
    /// Why a check cannot go ahead, or `nil` if it can. The right code is refused too once attempts are spent.
    public static func checkRefusal(_ v: Verification, now: Timestamp) -> VerificationError? {
        switch v.state {
        case .approved: return .alreadyApproved
        case .canceled: return .canceled
        case .expired: return .expired
        case .pending:
            if now >= v.expiresAt { return .expired }
            if v.attempts >= v.maxAttempts { return .maxAttemptsReached }
            return nil
        }
    }

    /// Why a resend cannot go ahead, or `nil` if it can.
    public static func resendRefusal(_ v: Verification, now: Timestamp) -> VerificationError? {
        if let refusal = checkRefusal(v, now: now) { return refusal }
        if v.sends >= v.maxSends { return .maxSendsReached }
        if now < v.resendAvailableAt { return .resendCooldown(retryAfter: v.resendAvailableAt - now) }
        return nil
    }

    /// Why a cancel cannot go ahead, or `nil` if it can. A verification whose attempts are spent can still be canceled.
    public static func cancelRefusal(_ v: Verification, now: Timestamp) -> VerificationError? {
        switch v.state {
        case .approved: return .alreadyApproved
        case .canceled: return .canceled
        case .expired: return .expired
        case .pending: return now >= v.expiresAt ? .expired : nil
        }
    }

    /// Refuses anything touching a destination that is locked after too many failed checks.
    public static func lockRefusal(_ state: DestinationState?, now: Timestamp) -> VerificationError? {
        guard let until = state?.lockedUntil, until > now else { return nil }
        return .destinationLocked(retryAfter: until - now)
    }

    /// Refuses a start when the destination already had `policy.startsPerDestination` starts in the window.
    /// - Parameters:
    ///   - recentStarts: starts to this destination since `now - window`.
    ///   - oldest: the oldest of those, which decides when a slot frees up.
    public static func startLimitRefusal(recentStarts: Int, oldest: Timestamp?, now: Timestamp, policy: Policy) -> VerificationError? {
        guard recentStarts >= policy.startsPerDestination else { return nil }
        let freesAt = (oldest ?? now) + .seconds(policy.startWindowSeconds)
        return .destinationRateLimited(retryAfter: max(freesAt - now, .seconds(1)))
    }

    /// Refuses the request when the key has made more than its allowance in the current one-second window.
    public static func admissionRefusal(countInWindow: Int, limit: Int, now: Timestamp) -> VerificationError? {
        guard countInWindow > limit else { return nil }
        let nextWindow = Timestamp(milliseconds: (now.milliseconds / 1000 + 1) * 1000)
        return .keyRateLimited(retryAfter: nextWindow - now)
    }

    /// The one-second window a request falls in, as the store keys its counters.
    public static func admissionWindow(_ now: Timestamp) -> Int64 { now.milliseconds / 1000 }

    // MARK: transitions

    public static func approved(_ v: Verification, now: Timestamp) -> Verification {
        var next = v
        next.attempts += 1
        next.state = .approved
        next.updatedAt = now
        return next
    }

    public static func failedAttempt(_ v: Verification, now: Timestamp) -> Verification {
        var next = v
        next.attempts += 1
        next.updatedAt = now
        return next
    }

    /// A new code for the same verification: fresh lifetime, one more send, a longer cooldown,
    /// and the attempt counter untouched (NIST SP 800-63B-4: a resend never resets failures).
    public static func resent(_ v: Verification, codeHash: [UInt8], now: Timestamp, policy: Policy) -> Verification {
        var next = v
        next.codeHash = .init(codeHash)
        next.sends += 1
        next.lastSentAt = now
        next.expiresAt = now + .seconds(v.ttlSeconds)
        next.resendAvailableAt = now + policy.resendCooldown(afterSends: next.sends)
        next.updatedAt = now
        return next
    }

    public static func canceled(_ v: Verification, now: Timestamp) -> Verification {
        var next = v
        next.state = .canceled
        next.updatedAt = now
        return next
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

    /// A successful check ends the run of failures.
    public static func afterApproval(_ state: DestinationState) -> DestinationState {
        var next = state
        next.failedChecks = 0
        next.firstFailureAt = nil
        return next
    }
}
