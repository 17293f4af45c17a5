/// Opening and closing a database. Every port below is implemented by one store per backend (SQLite, PostgreSQL);
/// each consumer depends on the narrowest port it needs.
///
/// The ports' common contract: every fact that decides correctness lives in the store and changes atomically
/// there (a transaction or a conditional statement), never as a read-modify-write in process memory, so any
/// number of instances can share one store. A store loads and locks, calls the use case's decider, and writes what
/// it returned; refusals are thrown as `VerificationError`, anything else thrown is a storage failure (`StoreError`).
public protocol StoreLifecycle: Sendable {
    /// Applies pending schema migrations; safe to call from several processes at once.
    func migrate() async throws
    /// Succeeds when the database answers.
    func ping() async throws
    /// Releases connections; the store is not used afterwards.
    func close() async
}

/// Every port: what the application wires, and what the command line opens.
public typealias Store = StoreLifecycle & VerificationStore & TenantStore & SecretStore & TokenLedger & OutboxStore & Housekeeping & AuditStore
    & VerificationQueries & RequestCounters & PersonalDataBackfill & RecordStore & ProfileSessionStore & RequestNonceStore & DeliveryReportStore
    & TemplateStore & WebhookStore & TenantDeliveryStore

/// A storage failure, as opposed to a refusal: the database is unreachable, busy or broken.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case unavailable, conflict, corrupt }
    public var kind: Kind
    public var description: String
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
