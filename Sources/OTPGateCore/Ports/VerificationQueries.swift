/// Read-only views for operators (the admin console, delivery status) and for tests: nothing here counts a
/// request or changes a row.
public protocol VerificationQueries: Sendable {
    /// One verification of the tenant, or `nil`.
    func findVerification(id: String, tenantID: String) async throws -> Verification?
    /// A verification's messages, oldest first, with their delivery state.
    func outboxMessages(verificationID: String) async throws -> [OutboxMessage]
    /// What the store remembers about a destination, by its blind index: its run of failed checks and any lock.
    func destinationState(tenantID: String, destinationKey: String) async throws -> DestinationState?
}
