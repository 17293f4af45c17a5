import OTPGateCore

/// The profiles' own rules about a session, pure: how long an id lives, whether it is still live, and what a flow may
/// do with it. Engine rules (attempts, expiry of the code, cooldowns) are not here; the verification holds them.
enum SessionDecider {
    /// A session's lifetime: the client's `requested` seconds (Surepass `expiry`) when given, within 60 s and the
    /// configured maximum.
    static func lifetime(requestedSeconds: Int?, configured: Duration) -> Duration {
        guard let requestedSeconds else { return configured }
        return min(max(.seconds(60), .seconds(requestedSeconds)), configured)
    }

    /// A session answers only for its tenant, profile and kind, and until it expires.
    static func isLive(_ session: ProfileSession?, profile: String, kinds: Set<String>, now: Timestamp) -> ProfileSession? {
        guard let session, session.profile == profile, kinds.contains(session.kind), now < session.expiresAt else { return nil }
        return session
    }
}
