/// A token accepted once: what the ledger keeps so that no instance accepts it again before it expires.
public struct ConsumedToken: Sendable, Equatable {
    public var jti: String
    public var tenantID: String
    public var expiresAt: Timestamp
    public var consumedAt: Timestamp
    /// Who consumed it, for the audit entry (nil with auditing off).
    public var audit: AuditActor?

    public init(jti: String, tenantID: String, expiresAt: Timestamp, consumedAt: Timestamp) {
        self.jti = jti
        self.tenantID = tenantID
        self.expiresAt = expiresAt
        self.consumedAt = consumedAt
    }
}

/// Decides token introspection once the signature holds. Rules, in order: the token belongs to the caller's
/// tenant, it has not expired, its purpose matches the one asked for; then, with `consume`, the ledger entry to write.
public enum TokenDecider {
    public static func rejection(_ claims: VerificationClaims, tenantID: String, purpose: String?, now: Timestamp) -> TokenRejection? {
        guard claims.tenantID == tenantID else { return .tenantMismatch }
        guard claims.exp > now.seconds else { return .expired }
        if let purpose, purpose != claims.purpose { return .purposeMismatch }
        return nil
    }

    /// The ledger entry that consumes the token; it may be forgotten once the token has expired.
    public static func consumption(_ claims: VerificationClaims, now: Timestamp) -> ConsumedToken {
        ConsumedToken(jti: claims.jti, tenantID: claims.tenantID, expiresAt: Timestamp(seconds: claims.exp), consumedAt: now)
    }
}
