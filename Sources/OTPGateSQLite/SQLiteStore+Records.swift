import Foundation
import GRDB
public import OTPGateCore

extension SQLiteStore {
    // MARK: records

    public func upsertRecords(_ records: [SealedRecord], progress: @escaping @Sendable (Int) -> Void) async throws {
        try await write { db in
            for (n, r) in records.enumerated() {
                if n % 500 == 0 { progress(n) }
                try db.cachedStatement(
                    sql: """
                        INSERT INTO records (id, tenant_id, kind, sealed, password_hash, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed,
                            password_hash = COALESCE(excluded.password_hash, records.password_hash),
                            updated_at = excluded.updated_at
                        """
                ).execute(arguments: [r.id, r.tenantID, r.kind, Data(r.sealed), r.passwordHash, r.updatedAt.milliseconds])
                try db.cachedStatement(sql: "DELETE FROM record_keys WHERE record_id = ?").execute(arguments: [r.id])
                for key in r.lookupKeys {
                    try db.cachedStatement(sql: "INSERT OR IGNORE INTO record_keys (tenant_id, kind, lookup_key, record_id) VALUES (?, ?, ?, ?)")
                        .execute(arguments: [r.tenantID, r.kind, key, r.id])
                }
            }
        }
    }

    public func record(tenantID: String, kind: String, lookupKey: String) async throws -> SealedRecord? {
        try await read { db in
            try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT r.* FROM record_keys k JOIN records r ON r.id = k.record_id
                        WHERE k.tenant_id = ? AND k.kind = ? AND k.lookup_key = ? ORDER BY r.updated_at DESC, r.id LIMIT 1
                        """),
                arguments: [tenantID, kind, lookupKey]
            ).map(Self.sealedRecord)
        }
    }

    public func record(id: String, tenantID: String) async throws -> SealedRecord? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM records WHERE id = ? AND tenant_id = ?"), arguments: [id, tenantID])
                .map(Self.sealedRecord)
        }
    }

    static func sealedRecord(_ row: Row) -> SealedRecord {
        SealedRecord(
            id: row["id"], tenantID: row["tenant_id"], kind: row["kind"], lookupKeys: [], sealed: Array(row["sealed"] as Data),
            passwordHash: row["password_hash"], updatedAt: Timestamp(milliseconds: row["updated_at"]))
    }

    public func replacePasswordHash(recordID: String, tenantID: String, hash: String, at: Timestamp) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE records SET password_hash = ?, updated_at = ? WHERE id = ? AND tenant_id = ?",
                arguments: [hash, at.milliseconds, recordID, tenantID])
            return db.changesCount == 1
        }
    }

    public func recordCounts(tenantID: String) async throws -> [String: Int] {
        try await read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT kind, count(*) AS n FROM records WHERE tenant_id = ? GROUP BY kind", arguments: [tenantID]) {
                counts[row["kind"]] = row["n"]
            }
            return counts
        }
    }

    // MARK: sessions

    static func session(_ row: Row) -> ProfileSession {
        ProfileSession(
            id: row["id"], tenantID: row["tenant_id"], profile: row["profile"], kind: row["kind"], recordID: row["record_id"],
            verificationID: row["verification_id"], sealedData: (row["sealed_data"] as Data?).map(Array.init) ?? [],
            createdAt: Timestamp(milliseconds: row["created_at"]), expiresAt: Timestamp(milliseconds: row["expires_at"]))
    }

    static func sessionArguments(_ s: ProfileSession) -> StatementArguments {
        [
            s.tenantID, s.id, s.profile, s.kind, s.recordID, s.verificationID, s.sealedData.isEmpty ? nil : Data(s.sealedData),
            s.createdAt.milliseconds, s.expiresAt.milliseconds,
        ]
    }

    public func insertSession(_ session: ProfileSession) async throws -> Bool {
        try await write { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO profile_sessions (tenant_id, id, profile, kind, record_id, verification_id, sealed_data, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, id) DO NOTHING
                    """
            ).execute(arguments: Self.sessionArguments(session))
            return db.changesCount == 1
        }
    }

    public func replaceSession(_ session: ProfileSession, expected: String?) async throws -> Bool {
        try await write { db in try Self.replaceSession(db, session, expected: expected) }
    }

    /// A created start's session write (`SessionBinding`; its replay guard was recorded first): throws, rolling the
    /// start's savepoint back, when the session changed.
    static func bind(_ db: Database, _ binding: SessionBinding) throws {
        guard try replaceSession(db, binding.session, expected: binding.expected) else {
            throw SessionBindingError.sessionChanged
        }
    }

    static func replaceSession(_ db: Database, _ session: ProfileSession, expected: String?) throws -> Bool {
        // One statement: inserted when there is none, replaced only while it still names `expected`.
        var arguments = Self.sessionArguments(session)
        arguments += [expected]
        try db.cachedStatement(
            sql: """
                INSERT INTO profile_sessions (tenant_id, id, profile, kind, record_id, verification_id, sealed_data, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, id) DO UPDATE SET profile = excluded.profile, kind = excluded.kind, record_id = excluded.record_id,
                    verification_id = excluded.verification_id, sealed_data = excluded.sealed_data, created_at = excluded.created_at,
                    expires_at = excluded.expires_at
                WHERE profile_sessions.verification_id IS ?
                """
        ).execute(arguments: arguments)
        return db.changesCount == 1
    }

    public func session(id: String, tenantID: String) async throws -> ProfileSession? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM profile_sessions WHERE tenant_id = ? AND id = ?"), arguments: [tenantID, id])
                .map(Self.session)
        }
    }

    public func attachVerification(
        sessionID: String, tenantID: String, expected: String?, verificationID: String, sealedData: [UInt8]
    ) async throws -> Bool {
        try await write { db in
            try db.cachedStatement(
                sql: """
                    UPDATE profile_sessions SET verification_id = ?, sealed_data = ?
                    WHERE tenant_id = ? AND id = ? AND verification_id IS ?
                    """
            ).execute(arguments: [verificationID, sealedData.isEmpty ? nil : Data(sealedData), tenantID, sessionID, expected])
            return db.changesCount == 1
        }
    }

    public func deleteSession(id: String, tenantID: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM profile_sessions WHERE tenant_id = ? AND id = ?", arguments: [tenantID, id])
            return db.changesCount == 1
        }
    }
}
