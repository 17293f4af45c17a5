import Foundation

public struct CheckCommand: Sendable {
    public var id: String
    public var tenantID: String
    /// The keyed hash of the submitted code, compared in constant time with the stored one.
    public var candidateHash: [UInt8]
    public var now: Timestamp
    public var policy: Policy
    public var keyRequest: KeyRequest?
    /// Who checks, for the check's audit entry (nil with auditing off).
    public var audit: AuditActor?

    public init(id: String, tenantID: String, candidateHash: [UInt8], now: Timestamp, policy: Policy, keyRequest: KeyRequest?) {
        self.id = id
        self.tenantID = tenantID
        self.candidateHash = candidateHash
        self.now = now
        self.policy = policy
        self.keyRequest = keyRequest
    }
}

public enum CheckOutcome: Sendable, Equatable {
    case approved(Verification)
    /// The attempt was counted; the verification as it stands after it.
    case incorrect(Verification)
}

/// Decides a check from the verification and its destination as the store loaded and locked them. Rules, in
/// order: the verification belongs to the caller's tenant, its state (approved, canceled, expired, attempts
/// spent — the right code is refused too once attempts are spent), the destination's lock, then the code itself.
public enum CheckDecider {
    public enum Decision: Sendable, Equatable {
        case apply(Writes)
        case refuse(VerificationError)
    }

    public struct Writes: Sendable, Equatable {
        public var verification: Verification
        /// The destination's new record, or `nil` when it is unchanged.
        public var destination: DestinationState?
        public var outcome: CheckOutcome
    }

    /// - Parameters:
    ///   - verification: the row with the command's id, whatever its tenant, or `nil`.
    ///   - destination: the verification's destination record, or `nil` if it has none yet.
    public static func decide(_ command: CheckCommand, verification: Verification?, destination: DestinationState?) -> Decision {
        guard let v = verification, v.tenantID == command.tenantID else { return .refuse(.notFound) }
        if let refusal = refusal(v, now: command.now) { return .refuse(refusal) }
        let destination = destination ?? DestinationState(tenantID: v.tenantID, destinationKey: v.destinationKey)
        if let refusal = DestinationRules.lockRefusal(lockedUntil: destination.lockedUntil, now: command.now) { return .refuse(refusal) }
        var next = v
        next.attempts += 1
        next.updatedAt = command.now
        if constantTimeEquals(v.codeHash, command.candidateHash) {
            next.state = .approved
            return .apply(Writes(verification: next, destination: DestinationRules.afterApproval(destination), outcome: .approved(next)))
        }
        return .apply(
            Writes(
                verification: next, destination: DestinationRules.afterFailedCheck(destination, now: command.now, policy: command.policy),
                outcome: .incorrect(next)))
    }

    /// Why a verification takes no more checks (or resends), or `nil` if it does.
    public static func refusal(_ v: Verification, now: Timestamp) -> VerificationError? {
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
}
