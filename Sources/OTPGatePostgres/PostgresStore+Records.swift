import Foundation
public import OTPGateCore
import PostgresNIO

extension PostgresStore {
    // MARK: records

    /// One transaction for the whole import, written in chunks of one statement each (`jsonb_to_recordset`).
    public func upsertRecords(_ records: [SealedRecord], progress: @escaping @Sendable (Int) -> Void) async throws {
        let chunks = stride(from: 0, to: records.count, by: 1000).map { Array(records[$0..<min($0 + 1000, records.count)]) }
        try await database.transaction(until: .now + .seconds(3600)) { connection in
            for (n, chunk) in chunks.enumerated() {
                progress(n * 1000)
                var rows = BatchJSON()
                var keys = BatchJSON()
                for r in chunk {
                    rows.append([
                        "id": .string(r.id), "tenant_id": .string(r.tenantID), "kind": .string(r.kind), "sealed": .bytes(r.sealed),
                        "password_hash": .text(r.passwordHash), "updated_at": .time(r.updatedAt),
                    ])
                    for key in r.lookupKeys {
                        keys.append([
                            "tenant_id": .string(r.tenantID), "kind": .string(r.kind), "lookup_key": .string(key), "record_id": .string(r.id),
                        ])
                    }
                }
                let rowText = rows.text
                let keyText = keys.text
                _ = try await self.rows(
                    """
                    INSERT INTO records (id, tenant_id, kind, sealed, password_hash, updated_at)
                    SELECT id, tenant_id, kind, decode(sealed, 'base64'), password_hash, updated_at
                    FROM jsonb_to_recordset(\(rowText)::jsonb) AS x(id text, tenant_id text, kind text, sealed text, password_hash text, updated_at bigint)
                    ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed,
                        password_hash = COALESCE(excluded.password_hash, records.password_hash), updated_at = excluded.updated_at
                    """, on: connection)
                _ = try await self.rows(
                    """
                    DELETE FROM record_keys WHERE record_id IN (SELECT id FROM jsonb_to_recordset(\(rowText)::jsonb) AS x(id text))
                    """, on: connection)
                if !keys.isEmpty {
                    _ = try await self.rows(
                        """
                        INSERT INTO record_keys (tenant_id, kind, lookup_key, record_id)
                        SELECT tenant_id, kind, lookup_key, record_id
                        FROM jsonb_to_recordset(\(keyText)::jsonb) AS x(tenant_id text, kind text, lookup_key text, record_id text)
                        ON CONFLICT DO NOTHING
                        """, on: connection)
                }
            }
        }
    }

    public func record(tenantID: String, kind: String, lookupKey: String) async throws -> SealedRecord? {
        try await rows(
            """
            SELECT r.* FROM record_keys k JOIN records r ON r.id = k.record_id
            WHERE k.tenant_id = \(tenantID) AND k.kind = \(kind) AND k.lookup_key = \(lookupKey) ORDER BY r.updated_at DESC, r.id LIMIT 1
            """
        ).first.map(Self.sealedRecord)
    }

    public func record(id: String, tenantID: String) async throws -> SealedRecord? {
        try await rows("SELECT * FROM records WHERE id = \(id) AND tenant_id = \(tenantID)").first.map(Self.sealedRecord)
    }

    static func sealedRecord(_ row: PostgresRandomAccessRow) throws -> SealedRecord {
        SealedRecord(
            id: try row["id"].decode(String.self), tenantID: try row["tenant_id"].decode(String.self), kind: try row["kind"].decode(String.self),
            lookupKeys: [], sealed: Array(buffer: try row["sealed"].decode(ByteBuffer.self)),
            passwordHash: try row["password_hash"].decode(String?.self), updatedAt: Timestamp(milliseconds: try row["updated_at"].decode(Int64.self)))
    }

    public func replacePasswordHash(recordID: String, tenantID: String, hash: String, at: Timestamp) async throws -> Bool {
        try await !rows(
            """
            UPDATE records SET password_hash = \(hash), updated_at = \(at.milliseconds) WHERE id = \(recordID) AND tenant_id = \(tenantID)
            RETURNING id
            """
        ).isEmpty
    }

    public func recordCounts(tenantID: String) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try await rows("SELECT kind, count(*)::bigint AS n FROM records WHERE tenant_id = \(tenantID) GROUP BY kind") {
            counts[try row["kind"].decode(String.self)] = Int(try row["n"].decode(Int64.self))
        }
        return counts
    }

    // MARK: sessions

    static func session(_ row: PostgresRandomAccessRow) throws -> ProfileSession {
        ProfileSession(
            id: try row["id"].decode(String.self), tenantID: try row["tenant_id"].decode(String.self),
            profile: try row["profile"].decode(String.self),
            kind: try row["kind"].decode(String.self), recordID: try row["record_id"].decode(String.self),
            verificationID: try row["verification_id"].decode(String?.self),
            sealedData: try row["sealed_data"].decode(ByteBuffer?.self).map { Array(buffer: $0) } ?? [],
            createdAt: Timestamp(milliseconds: try row["created_at"].decode(Int64.self)),
            expiresAt: Timestamp(milliseconds: try row["expires_at"].decode(Int64.self)))
    }

    public func insertSession(_ s: ProfileSession) async throws -> Bool {
        let data = s.sealedData.isEmpty ? nil : ByteBuffer(bytes: s.sealedData)
        return try await !rows(
            """
            INSERT INTO profile_sessions (tenant_id, id, profile, kind, record_id, verification_id, sealed_data, created_at, expires_at)
            VALUES (\(s.tenantID), \(s.id), \(s.profile), \(s.kind), \(s.recordID), \(s.verificationID), \(data),
                    \(s.createdAt.milliseconds), \(s.expiresAt.milliseconds))
            ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id
            """
        ).isEmpty
    }

    public func replaceSession(_ s: ProfileSession, expected: String?) async throws -> Bool {
        try await !rows(Self.replaceQuery(s, expected: expected)).isEmpty
    }

    /// A created start's session write (`SessionBinding`; its replay guard was recorded first), in the start's
    /// transaction: throws, rolling it back, when the session changed.
    func bind(_ binding: SessionBinding, on connection: PostgresConnection) async throws {
        guard try await !rows(Self.replaceQuery(binding.session, expected: binding.expected), on: connection).isEmpty else {
            throw SessionBindingError.sessionChanged
        }
    }

    /// One statement: inserted when there is none, replaced only while it still names `expected`.
    static func replaceQuery(_ s: ProfileSession, expected: String?) -> PostgresQuery {
        let data = s.sealedData.isEmpty ? nil : ByteBuffer(bytes: s.sealedData)
        return """
            INSERT INTO profile_sessions (tenant_id, id, profile, kind, record_id, verification_id, sealed_data, created_at, expires_at)
            VALUES (\(s.tenantID), \(s.id), \(s.profile), \(s.kind), \(s.recordID), \(s.verificationID), \(data),
                    \(s.createdAt.milliseconds), \(s.expiresAt.milliseconds))
            ON CONFLICT (tenant_id, id) DO UPDATE SET profile = excluded.profile, kind = excluded.kind, record_id = excluded.record_id,
                verification_id = excluded.verification_id, sealed_data = excluded.sealed_data, created_at = excluded.created_at,
                expires_at = excluded.expires_at
            WHERE profile_sessions.verification_id IS NOT DISTINCT FROM \(expected)
            RETURNING id
            """
    }

    public func session(id: String, tenantID: String) async throws -> ProfileSession? {
        try await rows("SELECT * FROM profile_sessions WHERE tenant_id = \(tenantID) AND id = \(id)").first.map(Self.session)
    }

    public func attachVerification(
        sessionID: String, tenantID: String, expected: String?, verificationID: String, sealedData: [UInt8]
    ) async throws -> Bool {
        let data = sealedData.isEmpty ? nil : ByteBuffer(bytes: sealedData)
        return try await !rows(
            """
            UPDATE profile_sessions SET verification_id = \(verificationID), sealed_data = \(data)
            WHERE tenant_id = \(tenantID) AND id = \(sessionID) AND verification_id IS NOT DISTINCT FROM \(expected)
            RETURNING id
            """
        ).isEmpty
    }

    public func deleteSession(id: String, tenantID: String) async throws -> Bool {
        try await !rows("DELETE FROM profile_sessions WHERE tenant_id = \(tenantID) AND id = \(id) RETURNING id").isEmpty
    }
}
