/// The audit log's chain and checkpoints. Entries themselves are written by the other ports' writes, in the
/// transaction of their event; this port links them and reads them back.
public protocol AuditStore: Sendable {
    /// Chains up to `limit` unlinked entries of each tenant that has some (at most `tenants` tenants), in one
    /// transaction per tenant that holds the tenant's chain (so two instances never link the same tenant at once).
    /// Returns each linked tenant's new head.
    func linkAudit(tenants: Int, limit: Int) async throws -> [(tenantID: String, seq: Int64, hash: [UInt8])]
    /// Heads that have no checkpoint yet (a linker that stopped between linking and signing leaves one).
    func uncheckpointedAuditHeads(limit: Int) async throws -> [(tenantID: String, seq: Int64, hash: [UInt8])]
    func saveAuditCheckpoint(_ checkpoint: AuditCheckpoint) async throws
    /// A tenant's entries after `afterID` (row id), oldest first.
    func auditEntries(tenantID: String, afterID: Int64, limit: Int) async throws -> [AuditEntry]
    /// A tenant's chained entries in seq order, and its checkpoints, for `otpgate audit verify`.
    func auditChain(tenantID: String) async throws -> (entries: [AuditEntry], checkpoints: [AuditCheckpoint])
    /// The tenants that have audit entries.
    func auditTenants() async throws -> [String]
}
