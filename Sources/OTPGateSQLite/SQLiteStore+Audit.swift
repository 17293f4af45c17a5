import Foundation
import GRDB
public import OTPGateCore

extension SQLiteStore {
    /// Appends an entry in the caller's transaction; the linker chains it later.
    static func insertAudit(_ db: Database, _ e: AuditEntry) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO audit_entries (tenant_id, at, action, actor, subject, masked, request_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [e.tenantID, e.at.milliseconds, e.action, e.actor, e.subject, e.masked, e.requestID, e.detail])
    }

    /// An administrative change's entry, when there is one and the change changed something.
    static func insertAudit(_ db: Database, _ e: AuditEntry?, if changed: Bool = true) throws {
        if changed, let e { try insertAudit(db, e) }
    }

    /// The columns `auditEntry` reads, by position: a name lookup per column (GRDB matches names case-insensitively)
    /// cost the linker more than hashing the entry.
    static let auditColumns = "id, tenant_id, at, action, actor, subject, masked, request_id, detail, seq, hash"

    static let unlinkedEntriesSQL = "SELECT \(auditColumns) FROM audit_entries WHERE tenant_id = ? AND seq IS NULL ORDER BY id LIMIT ?"

    static func auditEntry(_ row: Row) -> AuditEntry {
        AuditEntry(
            id: row[0], tenantID: row[1], at: Timestamp(milliseconds: row[2]), action: row[3], actor: row[4], subject: row[5], masked: row[6],
            requestID: row[7], detail: row[8], seq: row[9], hash: (row[10] as Data?).map { Array($0) })
    }

    /// Reads and hashes off the single writer, which only stores each entry's seq and hash: linking never holds up the
    /// starts queued behind it for longer than those updates. One linker per database file (the serving process), so
    /// nothing links in between; an update that finds its entry linked already rolls the tenant's round back.
    public func linkAudit(tenants: Int, limit: Int) async throws -> [AuditHead] {
        let pending = try await read { db in
            try String.fetchAll(
                db.cachedStatement(sql: "SELECT DISTINCT tenant_id FROM audit_entries WHERE seq IS NULL LIMIT ?"), arguments: [tenants])
        }
        var heads: [AuditHead] = []
        for tenant in pending {
            let (unlinked, previous) = try await read { db in
                let unlinked = try RowsInPlace.all(
                    db.cachedStatement(sql: Self.unlinkedEntriesSQL), arguments: [tenant, limit], Self.auditEntry)
                // The head is the newest linked entry or, once retention purged every one, the checkpoint kept in their place.
                let last = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT * FROM (SELECT seq, hash FROM audit_entries WHERE tenant_id = ?1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1)
                            UNION ALL SELECT * FROM (SELECT seq, hash FROM audit_checkpoints WHERE tenant_id = ?1 ORDER BY seq DESC LIMIT 1)
                            ORDER BY seq DESC LIMIT 1
                            """),
                    arguments: [tenant])
                let previous: (seq: Int64, hash: [UInt8]) = last.map { ($0["seq"], Array($0["hash"] as Data)) } ?? (0, AuditChain.genesis)
                return (unlinked, previous)
            }
            let linked = await AuditChain.linkYielding(unlinked, after: previous)
            guard let end = linked.last, let seq = end.seq, let hash = end.hash else { continue }
            let updates = linked.map { (id: $0.id, seq: $0.seq ?? 0, hash: Data($0.hash ?? [])) }
            // One write of its own per `maxRowsPerStatement` entries, one statement each: a round of 1,000 single-row
            // updates in one write held the single writer for milliseconds, and the starts and checks queued behind it
            // waited. The writes go in chain order, so a round stopped by a conflict leaves a chain that holds: its
            // committed part extends the head it read, and the next round goes on from there.
            for start in stride(from: 0, to: updates.count, by: Self.maxRowsPerStatement) {
                let slice = updates[start..<min(start + Self.maxRowsPerStatement, updates.count)]
                try await write { db in
                    let chunk = Self.padded(slice, to: Self.paddedCount(slice.count))
                    let rows = Array(repeating: "(?, ?, ?)", count: chunk.count).joined(separator: ", ")
                    var arguments: StatementArguments = []
                    for entry in chunk { arguments += [entry.id, entry.seq, entry.hash] }
                    try db.cachedStatement(
                        sql: """
                            UPDATE audit_entries SET seq = v.column2, hash = v.column3 FROM (VALUES \(rows)) AS v
                            WHERE audit_entries.id = v.column1 AND audit_entries.seq IS NULL
                            """
                    ).execute(arguments: arguments)
                    // Every entry of the slice, once: fewer means another linker got there first.
                    guard db.changesCount == slice.count else {
                        throw StoreError(.conflict, "an audit entry of tenant \(tenant) was linked meanwhile")
                    }
                }
            }
            heads.append(AuditHead(tenantID: tenant, seq: seq, hash: hash, linked: linked.count))
        }
        return heads
    }

    public func uncheckpointedAuditHeads(limit: Int) async throws -> [AuditHead] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT e.tenant_id, e.seq, e.hash FROM audit_entries e
                    JOIN (SELECT tenant_id, max(seq) AS seq FROM audit_entries WHERE seq IS NOT NULL GROUP BY tenant_id) h
                        ON h.tenant_id = e.tenant_id AND h.seq = e.seq
                    WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints c WHERE c.tenant_id = e.tenant_id AND c.seq = e.seq)
                    LIMIT ?
                    """, arguments: [limit]
            ).map { AuditHead(tenantID: $0["tenant_id"], seq: $0["seq"], hash: Array($0["hash"] as Data)) }
        }
    }

    public func saveAuditCheckpoint(_ c: AuditCheckpoint) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO audit_checkpoints (tenant_id, seq, hash, at, signature) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [c.tenantID, c.seq, Data(c.hash), c.at.milliseconds, c.signature])
        }
    }

    public func auditEntries(tenantID: String, afterSeq: Int64, limit: Int) async throws -> [AuditEntry] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.auditColumns) FROM audit_entries WHERE tenant_id = ? AND seq IS NOT NULL AND seq > ? ORDER BY seq LIMIT ?",
                arguments: [tenantID, afterSeq, limit]
            ).map(Self.auditEntry)
        }
    }

    public func auditChain(tenantID: String) async throws -> (entries: [AuditEntry], checkpoints: [AuditCheckpoint]) {
        try await read { db in
            let entries = try Row.fetchAll(
                db, sql: "SELECT \(Self.auditColumns) FROM audit_entries WHERE tenant_id = ? ORDER BY seq IS NULL, seq, id", arguments: [tenantID]
            ).map(Self.auditEntry)
            let checkpoints = try Row.fetchAll(
                db, sql: "SELECT * FROM audit_checkpoints WHERE tenant_id = ? ORDER BY seq", arguments: [tenantID]
            ).map { row in
                AuditCheckpoint(
                    tenantID: row["tenant_id"], seq: row["seq"], hash: Array(row["hash"] as Data), at: Timestamp(milliseconds: row["at"]),
                    signature: row["signature"])
            }
            return (entries, checkpoints)
        }
    }

    public func auditTenants() async throws -> [String] {
        // A tenant whose entries were all purged still has its kept checkpoint to check.
        try await read { db in
            try String.fetchAll(db, sql: "SELECT tenant_id FROM audit_entries UNION SELECT tenant_id FROM audit_checkpoints ORDER BY tenant_id")
        }
    }
}
