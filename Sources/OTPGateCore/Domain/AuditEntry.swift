/// One security event in a tenant's append-only audit log: who (`actor`: an API key id, `cli`, `system`) did what
/// (`action`) to what (`subject`: a verification, key or prefix id), through which request, with the destination only
/// masked. Written by the store in the transaction of the event; `seq` and `hash` are set later, when the background
/// linker chains it (`AuditChain`).
public struct AuditEntry: Sendable, Equatable {
    public var id: Int64
    public var tenantID: String
    public var at: Timestamp
    public var action: String
    public var actor: String
    public var subject: String
    public var masked: String?
    public var requestID: String?
    /// A JSON object's text with what else the event says (`{"test":true}` …).
    public var detail: String?
    public var seq: Int64?
    public var hash: [UInt8]?

    public init(
        id: Int64 = 0, tenantID: String, at: Timestamp, action: String, actor: String, subject: String, masked: String? = nil,
        requestID: String? = nil, detail: String? = nil, seq: Int64? = nil, hash: [UInt8]? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.at = at
        self.action = action
        self.actor = actor
        self.subject = subject
        self.masked = masked
        self.requestID = requestID
        self.detail = detail
        self.seq = seq
        self.hash = hash
    }
}

/// The actions the audit log records.
public enum AuditAction {
    public static let verificationStarted = "verification.started"
    public static let verificationApproved = "verification.approved"
    /// A check with a wrong code.
    public static let checkFailed = "verification.check_failed"
    /// The check whose failure locked the destination.
    public static let destinationLocked = "destination.locked"
    public static let tokenConsumed = "token.consumed"
    public static let tenantCreated = "tenant.created"
    public static let keyCreated = "api_key.created"
    public static let keyRevoked = "api_key.revoked"
    public static let credentialCreated = "credential.created"
    public static let credentialRevoked = "credential.revoked"
    /// The tenant's policy overrides (`otpgate tenant policy`).
    public static let policyChanged = "settings.policy_changed"
    /// The tenant's own delivery settings (`otpgate tenant delivery`).
    public static let deliveryChanged = "settings.delivery_changed"
    public static let deliveryRemoved = "settings.delivery_removed"
    public static let templateSaved = "template.saved"
    public static let templateDeleted = "template.deleted"
    public static let webhookSaved = "webhook.saved"
    public static let webhookDeleted = "webhook.deleted"
    public static let holdMade = "abuse_hold.created"
    public static let holdReleased = "abuse_hold.released"
    public static let testDestinationAdded = "test_destination.added"
    public static let testDestinationRemoved = "test_destination.removed"

    /// A start's detail, `{"channel":…,"test":…}` in canonical form: one of four texts, built once, not per start.
    public static func startDetail(channel: Channel, test: Bool) -> String {
        switch (channel, test) {
        case (.sms, false): #"{"channel":"sms","test":false}"#
        case (.sms, true): #"{"channel":"sms","test":true}"#
        case (.email, false): #"{"channel":"email","test":false}"#
        case (.email, true): #"{"channel":"email","test":true}"#
        }
    }

    /// A template's subject: `purpose/locale/channel`.
    public static func templateSubject(purpose: String, locale: String, channel: Channel) -> String {
        "\(purpose)/\(locale)/\(channel.rawValue)"
    }

    public static func templateSubject(_ t: MessageTemplate) -> String {
        templateSubject(purpose: t.purpose, locale: t.locale, channel: t.channel)
    }

    /// The action a check's write records: an approval, the failure that locked the destination (a check is only
    /// decided while it is unlocked), or a wrong code.
    public static func after(check writes: CheckDecider.Writes, now: Timestamp) -> String {
        if case .approved = writes.outcome { return verificationApproved }
        if let until = writes.destination?.lockedUntil, until > now { return destinationLocked }
        return checkFailed
    }
}

extension AuditEntry {
    /// A check's entry, as its write decided it.
    public static func check(_ writes: CheckDecider.Writes, by actor: AuditActor, now: Timestamp) -> AuditEntry {
        AuditEntry(
            tenantID: writes.verification.tenantID, at: now, action: AuditAction.after(check: writes, now: now), actor: actor.actor,
            subject: writes.verification.id, requestID: actor.requestID)
    }

    public static func consumed(_ token: ConsumedToken, by actor: AuditActor) -> AuditEntry {
        AuditEntry(
            tenantID: token.tenantID, at: token.consumedAt, action: AuditAction.tokenConsumed, actor: actor.actor, subject: token.jti,
            requestID: actor.requestID)
    }
}

/// Who is behind a use case, for its audit entries: the caller's key and the request id. Callers hold an
/// `AuditActor?` that is nil with auditing off, so every write's entry is `actor?.entry(…)`.
public struct AuditActor: Sendable, Equatable {
    public var actor: String
    public var requestID: String?

    public init(actor: String, requestID: String?) {
        self.actor = actor
        self.requestID = requestID
    }

    /// An operator at the command line (`otpgate …`).
    public static let cli = AuditActor(actor: "cli", requestID: nil)
    /// The server acting on its own (the first start's tenant, a hold the conversion guard made).
    public static func system(requestID: String? = nil) -> AuditActor { AuditActor(actor: "system", requestID: requestID) }

    /// An entry by this actor. `detail` holds no secret and no full destination: ids, names and counts only.
    public func entry(
        _ action: String, tenantID: String, subject: String, at: Timestamp, masked: String? = nil, detail: [String: JSONValue]? = nil
    ) -> AuditEntry {
        AuditEntry(
            tenantID: tenantID, at: at, action: action, actor: actor, subject: subject, masked: masked, requestID: requestID,
            detail: detail.map { JSONValue.object($0).canonicalText })
    }
}

extension AuditActor {
    /// A saved webhook endpoint's entry: its host and events (never the path or query, which may carry a secret).
    public func webhookSaved(_ e: WebhookEndpoint, secretReplaced: Bool, at: Timestamp) -> AuditEntry {
        entry(
            AuditAction.webhookSaved, tenantID: e.tenantID, subject: e.tenantID, at: at,
            detail: [
                "host": .string(String(WebhookRules.authority(of: e.url))), "events": .array(e.events.sorted().map { .string($0.rawValue) }),
                "secret_replaced": .bool(secretReplaced),
            ])
    }

    public func holdReleased(tenantID: String, prefix: String, at: Timestamp) -> AuditEntry {
        entry(AuditAction.holdReleased, tenantID: tenantID, subject: prefix, at: at)
    }
}

/// A signed statement that a tenant's chain had `hash` at `seq`: a JWS (ES256, the token signing key, `typ`
/// `otpgate-audit-checkpoint`) over the tenant, seq, hash and time. Deleting or editing what it covers shows.
public struct AuditCheckpoint: Sendable, Equatable {
    public var tenantID: String
    public var seq: Int64
    public var hash: [UInt8]
    public var at: Timestamp
    public var signature: String

    public init(tenantID: String, seq: Int64, hash: [UInt8], at: Timestamp, signature: String) {
        self.tenantID = tenantID
        self.seq = seq
        self.hash = hash
        self.at = at
        self.signature = signature
    }
}
