/// A validated request to start a verification (the HTTP layers parse and range-check; the engine trusts it).
public struct StartRequest: Sendable, Equatable {
    public var destination: Destination
    public var purpose: String?
    public var codeLength: Int?
    public var ttlSeconds: Int?
    public var maxAttempts: Int?
    public var locale: String?
    public var reference: String?
    public var context: JSONValue?
    /// An id chosen in advance (`VerificationEngine.plannedID`), so a vendor session can name its verification before it
    /// exists; `nil`: a new one. With an idempotency claim a repeat is a replay; without one the id must be fresh (a
    /// repeat is a store conflict).
    public var plannedID: String?
    /// A second destination the code also goes to (one verification, one attempt counter, one expiry), with a code
    /// of its own when `companionHasOwnCode`.
    public var companion: Destination?
    public var companionHasOwnCode: Bool
    /// A destination on another channel that gets the same code when the first message fails for good or is not
    /// reported delivered within `fallbackAfterSeconds` (the policy's delay when `nil`).
    public var fallback: Destination?
    public var fallbackAfterSeconds: Int?
    /// The end user's client, counted against the tenant's per-client limits when given.
    public var client: AbuseRules.Client?

    public init(
        destination: Destination, purpose: String? = nil, codeLength: Int? = nil, ttlSeconds: Int? = nil, maxAttempts: Int? = nil,
        locale: String? = nil, reference: String? = nil, context: JSONValue? = nil, plannedID: String? = nil, companion: Destination? = nil,
        companionHasOwnCode: Bool = false, fallback: Destination? = nil, fallbackAfterSeconds: Int? = nil, client: AbuseRules.Client? = nil
    ) {
        self.client = client
        self.fallback = fallback
        self.fallbackAfterSeconds = fallbackAfterSeconds
        self.plannedID = plannedID
        self.companion = companion
        self.companionHasOwnCode = companion != nil && companionHasOwnCode
        self.destination = destination
        self.purpose = purpose
        self.codeLength = codeLength
        self.ttlSeconds = ttlSeconds
        self.maxAttempts = maxAttempts
        self.locale = locale
        self.reference = reference
        self.context = context
    }
}

/// An approved check: the verification and the token that proves it.
public struct Approval: Sendable, Equatable {
    public var verification: Verification
    public var token: String
    public var tokenExpiresAt: Timestamp
}

/// The answer to a token introspection.
public enum TokenVerdict: Sendable, Equatable {
    case valid(VerificationClaims)
    case invalid(TokenRejection)
}
