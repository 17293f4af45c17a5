/// The delivery lifecycle of one outgoing message.
public enum OutboxState: String, Sendable {
    /// Waiting for a worker (first try or a retry after `nextAttemptAt`).
    case pending
    /// Claimed by a worker until `leaseUntil`; an expired lease makes it claimable again.
    case sending
    /// Taken by the provider.
    case sent
    /// The provider reported it delivered to the handset or mailbox.
    case delivered
    /// Gave up after the last retry.
    case failed
    /// A resend or cancel made the code obsolete before it went out.
    case superseded
    /// The verification expired before the message went out.
    case expired
}

/// A message waiting in, or having left, the transactional outbox. The payload (which holds the code) is
/// sealed under the master key and erased once the message is sent, superseded or expired.
public struct OutboxMessage: Sendable, Equatable {
    /// `<verification id>.<send number>` (`.2` appended for a companion destination's, `.3` for a fallback's): unique
    /// by construction, so the engine knows it before the insert.
    public var id: String
    public var tenantID: String
    public var verificationID: String
    public var channel: Channel
    public var sealedPayload: [UInt8]?
    public var state: OutboxState
    public var attempts: Int
    public var createdAt: Timestamp
    public var nextAttemptAt: Timestamp
    /// The verification's expiry: a code not delivered by then is not worth sending.
    public var expiresAt: Timestamp
    public var leaseUntil: Timestamp?
    public var lastError: String?
    /// The sender of the last attempt, and the id its provider gave the message.
    public var provider: String?
    public var providerMessageID: String?
    /// When the message reached its final state (sent, failed, superseded, expired), or was reported delivered.
    public var finishedAt: Timestamp?

    public init(
        id: String, tenantID: String, verificationID: String, channel: Channel, sealedPayload: [UInt8]?,
        state: OutboxState, attempts: Int, createdAt: Timestamp, nextAttemptAt: Timestamp, expiresAt: Timestamp,
        leaseUntil: Timestamp? = nil, lastError: String? = nil, provider: String? = nil, providerMessageID: String? = nil,
        finishedAt: Timestamp? = nil
    ) {
        self.provider = provider
        self.providerMessageID = providerMessageID
        self.finishedAt = finishedAt
        self.id = id
        self.tenantID = tenantID
        self.verificationID = verificationID
        self.channel = channel
        self.sealedPayload = sealedPayload
        self.state = state
        self.attempts = attempts
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.expiresAt = expiresAt
        self.leaseUntil = leaseUntil
        self.lastError = lastError
    }
}

/// A message to enqueue, written in the same transaction as the verification change that caused it.
public struct NewOutboxMessage: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var verificationID: String
    public var channel: Channel
    public var sealedPayload: [UInt8]
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    /// When set, the message is written already claimed by this instance until then (attempt 1), because a local
    /// worker will deliver it at once; if this process dies, the claim runs out and any worker delivers it.
    public var claimedUntil: Timestamp?
    /// When set, the message waits unclaimed until then (a fallback, `FallbackDecider`); it is never claimed at write.
    public var notBefore: Timestamp?

    public init(
        id: String, tenantID: String, verificationID: String, channel: Channel, sealedPayload: [UInt8], createdAt: Timestamp,
        expiresAt: Timestamp, claimedUntil: Timestamp? = nil
    ) {
        self.id = id
        self.claimedUntil = claimedUntil
        self.tenantID = tenantID
        self.verificationID = verificationID
        self.channel = channel
        self.sealedPayload = sealedPayload
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// What the outbox payload carries once unsealed: everything a sender needs to render and deliver.
public struct MessagePayload: Sendable, Equatable {
    public var destination: String
    public var code: String
    public var purpose: String?
    public var locale: String?
    public var ttlSeconds: Int
    /// Whether a fallback message waits on this one (`FallbackDecider`): only then does its outcome touch the outbox
    /// beyond its own row.
    public var hasFallback = false

    public init(destination: String, code: String, purpose: String?, locale: String?, ttlSeconds: Int) {
        self.destination = destination
        self.code = code
        self.purpose = purpose
        self.locale = locale
        self.ttlSeconds = ttlSeconds
    }
}

extension MessagePayload {
    private static let separator: UInt8 = 0x1F  // ASCII unit separator: no validated field can contain it.

    /// A compact, versioned encoding (sealed before it is stored): `1␟destination␟code␟purpose␟locale␟ttl`, then `␟f`
    /// when a fallback waits on the message.
    public var encoded: [UInt8] {
        let fields = ["1", destination, code, purpose ?? "", locale ?? "", String(ttlSeconds)] + (hasFallback ? ["f"] : [])
        return Array(fields.joined(separator: "\u{1F}").utf8)
    }

    public init(encoded bytes: [UInt8]) throws {
        let fields = bytes.split(separator: Self.separator, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count == 6 || (fields.count == 7 && fields[6] == "f"), fields[0] == "1", let ttl = Int(fields[5]) else {
            throw MessagePayloadError()
        }
        self.init(
            destination: fields[1], code: fields[2], purpose: fields[3].isEmpty ? nil : fields[3],
            locale: fields[4].isEmpty ? nil : fields[4], ttlSeconds: ttl)
        hasFallback = fields.count == 7
    }
}

public struct MessagePayloadError: Error, Sendable {}

extension NewOutboxMessage {
    /// The part number of a send's message to its companion destination, and of its fallback message.
    public static let companionPart = 2
    public static let fallbackPart = 3

    /// `<verification id>.<send>`, then `.2` appended for the same send's message to the companion destination and
    /// `.3` for its fallback: every message of a verification stays in `idRange`.
    public static func id(verificationID: String, send: Int, part: Int = 1) -> String {
        part == 1 ? "\(verificationID).\(send)" : "\(verificationID).\(send).\(part)"
    }

    /// The primary-key range holding every message of a verification: `[lower, upper)`.
    public static func idRange(verificationID: String) -> (lower: String, upper: String) { ("\(verificationID).", "\(verificationID)/") }

    /// The stored form of this message as inserted (claimed or pending).
    public var stored: OutboxMessage {
        OutboxMessage(
            id: id, tenantID: tenantID, verificationID: verificationID, channel: channel, sealedPayload: sealedPayload,
            state: claimedUntil == nil ? .pending : .sending, attempts: claimedUntil == nil ? 0 : 1, createdAt: createdAt,
            nextAttemptAt: claimedUntil ?? notBefore ?? createdAt, expiresAt: expiresAt, leaseUntil: claimedUntil)
    }
}
