/// The vendor profiles' sessions. Each change is one conditional statement, so concurrent calls on one id (two
/// generate-2fa requests, a submit racing a new send) cannot both win.
public protocol ProfileSessionStore: Sendable {
    /// Inserts a new session; `false` if the tenant already has one with that id (the caller draws another id).
    func insertSession(_ session: ProfileSession) async throws -> Bool
    /// Starts a per-subject session over: replaces the tenant's session with that id if its verification is still
    /// `expected`, or inserts it if there is none; `false` if another request got there first (one of several
    /// concurrent restarts wins). A first send's restart rides in its start instead (`SessionBinding`).
    func replaceSession(_ session: ProfileSession, expected: String?) async throws -> Bool
    func session(id: String, tenantID: String) async throws -> ProfileSession?
    /// Sets the session's verification and sealed data if its verification is still `expected`; `false` otherwise.
    func attachVerification(
        sessionID: String, tenantID: String, expected: String?, verificationID: String, sealedData: [UInt8]
    ) async throws -> Bool
    /// Ends a session; `false` if there was none.
    func deleteSession(id: String, tenantID: String) async throws -> Bool
}
