/// The audit log's chain and checkpoints. Entries themselves are written by the other ports' writes, in the
/// transaction of their event; this port links them and reads them back.
public protocol AuditStore: Sendable {
    /// Chains up to `limit` unlinked entries of each tenant that has some (at most `tenants` tenants), in one
    /// transaction per tenant that holds the tenant's chain (so two instances never link the same tenant at once).
    /// Returns each linked tenant's new head.
    func linkAudit(tenants: Int, limit: Int) async throws -> [AuditHead]
    /// Heads that have no checkpoint yet (a linker that stopped between linking and signing leaves one).
    func uncheckpointedAuditHeads(limit: Int) async throws -> [AuditHead]
    func saveAuditCheckpoint(_ checkpoint: AuditCheckpoint) async throws
    /// A tenant's chained entries after `afterSeq`, in chain order (an entry shows once linked, about a second after
    /// its event).
    func auditEntries(tenantID: String, afterSeq: Int64, limit: Int) async throws -> [AuditEntry]
    /// A tenant's chained entries in seq order, and its checkpoints, for `otpgate audit verify`.
    func auditChain(tenantID: String) async throws -> (entries: [AuditEntry], checkpoints: [AuditCheckpoint])
    /// The tenants that have audit entries or checkpoints (one whose entries were all purged keeps its checkpoint).
    func auditTenants() async throws -> [String]
}

/// A tenant's chain head after a linking round: what its checkpoint signs.
public struct AuditHead: Sendable, Equatable {
    public var tenantID: String
    public var seq: Int64
    public var hash: [UInt8]
    /// How many entries this round linked (0 for a head found unsigned).
    public var linked: Int

    public init(tenantID: String, seq: Int64, hash: [UInt8], linked: Int = 0) {
        self.tenantID = tenantID
        self.seq = seq
        self.hash = hash
        self.linked = linked
    }
}
