import Foundation

/// A start as the engine built it: the new verification and its first (sealed) message, ready to write.
public struct StartCommand: Sendable {
    public var verification: Verification
    /// The code's message; nil for a test destination, which is never delivered.
    public var message: NewOutboxMessage?
    /// The message to the verification's companion destination, if it has one.
    public var companionMessage: NewOutboxMessage?
    /// The same code to the verification's fallback destination, waiting for its time (`FallbackDecider`).
    public var fallbackMessage: NewOutboxMessage?
    public var policy: Policy
    public var keyRequest: KeyRequest?
    public var idempotency: IdempotencyClaim?
    /// A vendor session written in the same transaction, before anything else (`SessionBinding`).
    public var binding: SessionBinding?
    /// The start's audit entry, written with the verification (nil with auditing off).
    public var audit: AuditEntry?

    public init(
        verification: Verification, message: NewOutboxMessage?, companionMessage: NewOutboxMessage? = nil, policy: Policy, keyRequest: KeyRequest?,
        idempotency: IdempotencyClaim?, binding: SessionBinding? = nil, fallbackMessage: NewOutboxMessage? = nil
    ) {
        self.fallbackMessage = fallbackMessage
        self.binding = binding
        self.verification = verification
        self.message = message
        self.companionMessage = companionMessage
        self.policy = policy
        self.keyRequest = keyRequest
        self.idempotency = idempotency
    }

    public var now: Timestamp { verification.createdAt }
}

public enum StartResult: Sendable, Equatable {
    case created(Verification)
    /// The idempotency key was seen with the same request: the first response, nothing sent.
    case replayed(Verification)
}

/// Decides a start from what the store loaded under its locks. Rules, in order: the idempotency key (replay or
/// refuse a reuse), the destination's lock, the destination's start limit. The per-key request limit is counted
/// and decided before (`KeyRequestLimit`).
public enum StartDecider {
    /// What the store loads, under its locks, for one start.
    public struct Loaded: Sendable, Equatable {
        /// The record stored under the command's idempotency key, if any (expired or not).
        public var idempotency: IdempotencyRecord?
        public var lockedUntil: Timestamp?
        /// Starts to the destination since `windowStart(of:)`, and the oldest of them.
        public var recentStarts: RecentStarts

        public init(idempotency: IdempotencyRecord? = nil, lockedUntil: Timestamp? = nil, recentStarts: RecentStarts = RecentStarts()) {
            self.idempotency = idempotency
            self.lockedUntil = lockedUntil
            self.recentStarts = recentStarts
        }
    }

    /// The starts to a destination that count against its limit.
    public struct RecentStarts: Sendable, Equatable {
        public var count: Int
        public var oldest: Timestamp?

        public init(count: Int = 0, oldest: Timestamp? = nil) {
            self.count = count
            self.oldest = oldest
        }

        /// These starts plus those of `times` that fall in the command's window (starts decided earlier in the
        /// same batch count as if committed already).
        public func adding(_ times: [Timestamp], for command: StartCommand) -> RecentStarts {
            let since = StartDecider.windowStart(of: command)
            let counted = times.filter { $0 > since }
            return RecentStarts(count: count + counted.count, oldest: (counted + [oldest].compactMap { $0 }).min())
        }
    }

    /// Starts created after this instant count against the command's destination.
    public static func windowStart(of command: StartCommand) -> Timestamp {
        command.now - .seconds(command.policy.startWindowSeconds)
    }

    public enum Decision: Sendable, Equatable {
        case create(Writes)
        case replay(Verification)
        case refuse(VerificationError)
    }

    /// What a decided start writes, all in one transaction.
    public struct Writes: Sendable, Equatable {
        public var verification: Verification
        public var message: NewOutboxMessage?
        public var companionMessage: NewOutboxMessage?
        public var fallbackMessage: NewOutboxMessage?
        /// The record to store under the idempotency key (replacing an expired one), if the start has a key.
        public var idempotency: IdempotencyRecord?

        /// Every message the start writes.
        public var messages: [NewOutboxMessage] { [message, companionMessage, fallbackMessage].compactMap { $0 } }
    }

    public static func decide(_ command: StartCommand, _ loaded: Loaded) -> Decision {
        let now = command.now
        var record: IdempotencyRecord?
        if let claim = command.idempotency {
            if let stored = loaded.idempotency, stored.isLive(at: now, window: claim.window) {
                guard constantTimeEquals(stored.requestHash, claim.requestHash) else { return .refuse(.idempotencyKeyReused) }
                return .replay(stored.response)
            }
            record = IdempotencyRecord(
                tenantID: command.verification.tenantID, key: claim.key, requestHash: claim.requestHash,
                response: command.verification.withoutSecrets, createdAt: now)
        }
        if let refusal = DestinationRules.lockRefusal(lockedUntil: loaded.lockedUntil, now: now) { return .refuse(refusal) }
        let policy = command.policy
        if loaded.recentStarts.count >= policy.startsPerDestination {
            let freesAt = (loaded.recentStarts.oldest ?? now) + .seconds(policy.startWindowSeconds)
            return .refuse(.destinationRateLimited(retryAfter: max(freesAt - now, .seconds(1))))
        }
        return .create(
            Writes(
                verification: command.verification, message: command.message, companionMessage: command.companionMessage,
                fallbackMessage: command.fallbackMessage, idempotency: record))
    }
}
