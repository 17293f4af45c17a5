import Foundation
public import OTPGateCore
import PostgresNIO

/// Audit entries appended in the caller's transaction, in the order given.
struct InsertAuditEntries: BatchStatement {
    static let sql = """
        INSERT INTO audit_entries (tenant_id, at, action, actor, subject, masked, request_id, detail)
        SELECT tenant_id, at, action, actor, subject, masked, request_id, detail
        FROM jsonb_to_recordset($1) AS x(
            tenant_id text, at bigint, action text, actor text, subject text, masked text, request_id text, detail text)
        """
    let rows: BatchJSON

    static func row(_ e: AuditEntry) -> [String: JSONValue] {
        [
            "tenant_id": .string(e.tenantID), "at": .time(e.at), "action": .string(e.action), "actor": .string(e.actor),
            "subject": .string(e.subject), "masked": .text(e.masked), "request_id": .text(e.requestID), "detail": .text(e.detail),
        ]
    }

    init(rows: BatchJSON) { self.rows = rows }

    init(_ entries: [AuditEntry]) {
        var rows = BatchJSON()
        for entry in entries { rows.append(Self.row(entry)) }
        self.rows = rows
    }
}

extension PostgresStore {
    /// Runs an administrative change and, if it changed something, its audit entry, in one transaction; without an
    /// entry (auditing off) the change runs alone.
    func audited<T: Sendable>(
        _ audit: AuditEntry?, _ change: @escaping @Sendable (PostgresConnection) async throws -> (result: T, changed: Bool)
    ) async throws -> T {
        guard let audit else { return try await connection { try await change($0).result } }
        return try await transaction { connection in
            let (result, changed) = try await change(connection)
            if changed { _ = try await self.database.execute(InsertAuditEntries([audit]), on: connection) }
            return result
        }
    }

    static func auditEntry(_ row: PostgresRandomAccessRow) throws -> AuditEntry {
        AuditEntry(
            id: try row["id"].decode(Int64.self), tenantID: try row["tenant_id"].decode(String.self),
            at: Timestamp(milliseconds: try row["at"].decode(Int64.self)), action: try row["action"].decode(String.self),
            actor: try row["actor"].decode(String.self), subject: try row["subject"].decode(String.self),
            masked: try row["masked"].decode(String?.self), requestID: try row["request_id"].decode(String?.self),
            detail: try row["detail"].decode(String?.self), seq: try row["seq"].decode(Int64?.self),
            hash: try row["hash"].decode(ByteBuffer?.self).map { Array(buffer: $0) })
    }

    /// One transaction per tenant under its advisory lock: instances link different tenants at once, never one twice.
    /// Entries are chained in the order the linker sees them committed (`seq`), so one whose transaction committed
    /// late is simply linked later.
    public func linkAudit(tenants: Int, limit: Int) async throws -> [AuditHead] {
        let pending = try await rows("SELECT DISTINCT tenant_id FROM audit_entries WHERE seq IS NULL LIMIT \(tenants)")
            .map { try $0["tenant_id"].decode(String.self) }
        var heads: [AuditHead] = []
        for tenant in pending {
            let head: AuditHead? = try await transaction { connection in
                let locked = try await self.rows(
                    // Advisory locks are database-wide: the schema keeps deployments that share a database apart.
                    "SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema() || \(":audit:" + tenant), 0)) AS locked",
                    on: connection)
                guard try locked[0]["locked"].decode(Bool.self) else { return nil }
                let unlinked = try await self.rows(
                    "SELECT * FROM audit_entries WHERE tenant_id = \(tenant) AND seq IS NULL ORDER BY id LIMIT \(limit)", on: connection
                ).map(Self.auditEntry)
                guard !unlinked.isEmpty else { return nil }
                // The head is the newest linked entry or, once retention purged every one, the checkpoint kept in their place.
                let last = try await self.rows(
                    """
                    (SELECT seq, hash FROM audit_entries WHERE tenant_id = \(tenant) AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1)
                    UNION ALL (SELECT seq, hash FROM audit_checkpoints WHERE tenant_id = \(tenant) ORDER BY seq DESC LIMIT 1)
                    ORDER BY seq DESC LIMIT 1
                    """,
                    on: connection
                ).first
                let previous: (seq: Int64, hash: [UInt8])
                if let last {
                    previous = (try last["seq"].decode(Int64.self), Array(buffer: try last["hash"].decode(ByteBuffer.self)))
                } else {
                    previous = (0, AuditChain.genesis)
                }
                let linked = await AuditChain.linkYielding(unlinked, after: previous)
                var updates = BatchJSON()
                for entry in linked {
                    updates.append(["id": .int(Int(entry.id)), "seq": .int(Int(entry.seq ?? 0)), "hash": .bytes(entry.hash ?? [])])
                }
                _ = try await self.database.execute(LinkAuditEntries(rows: updates), on: connection)
                guard let end = linked.last, let seq = end.seq, let hash = end.hash else { return nil }
                return AuditHead(tenantID: tenant, seq: seq, hash: hash, linked: linked.count)
            }
            if let head { heads.append(head) }
        }
        return heads
    }

    public func uncheckpointedAuditHeads(limit: Int) async throws -> [AuditHead] {
        try await rows(
            """
            SELECT e.tenant_id, e.seq, e.hash FROM audit_entries e
            JOIN (SELECT tenant_id, max(seq) AS seq FROM audit_entries WHERE seq IS NOT NULL GROUP BY tenant_id) h
                ON h.tenant_id = e.tenant_id AND h.seq = e.seq
            WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints c WHERE c.tenant_id = e.tenant_id AND c.seq = e.seq)
            LIMIT \(limit)
            """
        ).map {
            AuditHead(
                tenantID: try $0["tenant_id"].decode(String.self), seq: try $0["seq"].decode(Int64.self),
                hash: Array(buffer: try $0["hash"].decode(ByteBuffer.self)))
        }
    }

    public func saveAuditCheckpoint(_ c: AuditCheckpoint) async throws {
        _ = try await rows(
            """
            INSERT INTO audit_checkpoints (tenant_id, seq, hash, at, signature)
            VALUES (\(c.tenantID), \(c.seq), \(ByteBuffer(bytes: c.hash)), \(c.at.milliseconds), \(c.signature)) ON CONFLICT DO NOTHING
            """)
    }

    public func auditEntries(tenantID: String, afterSeq: Int64, limit: Int) async throws -> [AuditEntry] {
        try await rows(
            "SELECT * FROM audit_entries WHERE tenant_id = \(tenantID) AND seq IS NOT NULL AND seq > \(afterSeq) ORDER BY seq LIMIT \(limit)"
        )
        .map(Self.auditEntry)
    }

    public func auditChain(tenantID: String) async throws -> (entries: [AuditEntry], checkpoints: [AuditCheckpoint]) {
        let entries = try await rows("SELECT * FROM audit_entries WHERE tenant_id = \(tenantID) ORDER BY seq NULLS LAST, id")
            .map(Self.auditEntry)
        let checkpoints = try await rows("SELECT * FROM audit_checkpoints WHERE tenant_id = \(tenantID) ORDER BY seq").map { row in
            AuditCheckpoint(
                tenantID: try row["tenant_id"].decode(String.self), seq: try row["seq"].decode(Int64.self),
                hash: Array(buffer: try row["hash"].decode(ByteBuffer.self)), at: Timestamp(milliseconds: try row["at"].decode(Int64.self)),
                signature: try row["signature"].decode(String.self))
        }
        return (entries, checkpoints)
    }

    public func auditTenants() async throws -> [String] {
        // A tenant whose entries were all purged still has its kept checkpoint to check.
        try await rows("SELECT tenant_id FROM audit_entries UNION SELECT tenant_id FROM audit_checkpoints ORDER BY tenant_id")
            .map { try $0["tenant_id"].decode(String.self) }
    }
}

/// The seq and hash the linker gave each entry, in one statement.
struct LinkAuditEntries: BatchStatement {
    static let sql = """
        UPDATE audit_entries SET seq = x.seq, hash = decode(x.hash, 'base64')
        FROM jsonb_to_recordset($1) AS x(id bigint, seq bigint, hash text) WHERE audit_entries.id = x.id
        """
    let rows: BatchJSON
}
