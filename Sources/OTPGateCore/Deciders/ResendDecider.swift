import Foundation

public struct ResendCommand: Sendable {
    public var id: String
    public var tenantID: String
    public var channel: Channel?
    /// The new code's keyed hash.
    public var codeHash: [UInt8]
    /// The new code's sealed message, numbered by the engine's guess of the send; the decider renumbers it.
    /// The new code's message; nil for a test destination, which is never delivered.
    public var message: NewOutboxMessage?
    /// The new code's message to the companion destination, if the verification has one.
    public var companionMessage: NewOutboxMessage?
    /// The new code's fallback message, if the verification has a fallback destination.
    public var fallbackMessage: NewOutboxMessage?
    public var now: Timestamp
    public var policy: Policy
    public var keyRequest: KeyRequest?

    public init(
        id: String, tenantID: String, channel: Channel?, codeHash: [UInt8], message: NewOutboxMessage?, companionMessage: NewOutboxMessage? = nil,
        now: Timestamp, policy: Policy, keyRequest: KeyRequest?, fallbackMessage: NewOutboxMessage? = nil
    ) {
        self.fallbackMessage = fallbackMessage
        self.companionMessage = companionMessage
        self.id = id
        self.tenantID = tenantID
        self.channel = channel
        self.codeHash = codeHash
        self.message = message
        self.now = now
        self.policy = policy
        self.keyRequest = keyRequest
    }
}

/// Decides a resend. Rules, in order: the tenant, the requested channel, the verification's state (as for a
/// check), the send limit, the cooldown, the destination's lock. A resend gives a fresh lifetime and a longer
/// cooldown and never resets the attempt counter (NIST SP 800-63B-4); undelivered earlier codes are erased.
public enum ResendDecider {
    public enum Decision: Sendable, Equatable {
        case apply(Writes)
        case refuse(VerificationError)
    }

    public struct Writes: Sendable, Equatable {
        public var verification: Verification
        /// The new code's message, numbered by the send it really is (a concurrent resend may have come first).
        public var message: NewOutboxMessage?
        public var companionMessage: NewOutboxMessage?
        public var fallbackMessage: NewOutboxMessage?
        /// Undelivered messages of this verification are superseded before `message` is written.
        public var supersedesMessagesOf: String

        /// Every message the resend writes.
        public var messages: [NewOutboxMessage] { [message, companionMessage, fallbackMessage].compactMap { $0 } }
    }

    /// The verification's own reasons to refuse a resend (its state, channel, send cap and cooldown): the engine asks
    /// before spending a budget on it, so a spent budget never hides them.
    public static func refusal(_ v: Verification, channel: Channel?, now: Timestamp) -> VerificationError? {
        if let channel, channel != v.channel { return .channelMismatch }
        if let refusal = CheckDecider.refusal(v, now: now) { return refusal }
        if v.sends >= v.maxSends { return .maxSendsReached }
        if now < v.resendAvailableAt { return .resendCooldown(retryAfter: v.resendAvailableAt - now) }
        return nil
    }

    public static func decide(_ command: ResendCommand, verification: Verification?, destination: DestinationState?) -> Decision {
        guard let v = verification, v.tenantID == command.tenantID else { return .refuse(.notFound) }
        let now = command.now
        if let refusal = refusal(v, channel: command.channel, now: now) { return .refuse(refusal) }
        if let refusal = DestinationRules.lockRefusal(lockedUntil: destination?.lockedUntil, now: now) { return .refuse(refusal) }
        var next = v
        next.codeHash = .init(command.codeHash)
        next.sends += 1
        next.lastSentAt = now
        next.expiresAt = now + .seconds(v.ttlSeconds)
        next.resendAvailableAt = now + command.policy.resendCooldown(afterSends: next.sends)
        next.updatedAt = now
        var message = command.message
        message?.id = NewOutboxMessage.id(verificationID: v.id, send: next.sends)
        message?.expiresAt = next.expiresAt
        var companion = command.companionMessage
        companion?.id = NewOutboxMessage.id(verificationID: v.id, send: next.sends, part: NewOutboxMessage.companionPart)
        companion?.expiresAt = next.expiresAt
        var fallback = command.fallbackMessage
        fallback?.id = NewOutboxMessage.id(verificationID: v.id, send: next.sends, part: NewOutboxMessage.fallbackPart)
        fallback?.expiresAt = next.expiresAt
        return .apply(
            Writes(verification: next, message: message, companionMessage: companion, fallbackMessage: fallback, supersedesMessagesOf: v.id))
    }
}
