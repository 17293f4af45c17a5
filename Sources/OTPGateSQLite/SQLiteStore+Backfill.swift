import Foundation
import GRDB
public import OTPGateCore

extension SQLiteStore {
    public func verificationsInClear(limit: Int) async throws -> [Verification] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.verificationColumns) FROM verifications WHERE sealed_fields IS NULL ORDER BY id LIMIT ?", arguments: [limit]
            )
            .map(Self.verification)
        }
    }

    public func destinationsInClear(limit: Int) async throws -> [DestinationState] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT tenant_id, destination, failed_checks, first_failure_at, locked_until FROM destinations
                    WHERE substr(destination, 1, 4) <> ? ORDER BY tenant_id, destination LIMIT ?
                    """, arguments: [PersonalDataCipher.indexPrefix, limit]
            ).map { row in
                DestinationState(
                    tenantID: row["tenant_id"], destinationKey: row["destination"], failedChecks: row["failed_checks"],
                    firstFailureAt: (row["first_failure_at"] as Int64?).map(Timestamp.init(milliseconds:)),
                    lockedUntil: (row["locked_until"] as Int64?).map(Timestamp.init(milliseconds:)))
            }
        }
    }

    public func idempotencyRecordsInClear(limit: Int) async throws -> [IdempotencyRecord] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT tenant_id, idempotency_key FROM idempotency_keys WHERE instr(response, '"sealedFields"') = 0
                    ORDER BY tenant_id, idempotency_key LIMIT ?
                    """, arguments: [limit]
            ).compactMap { row in try Self.fetchIdempotency(db, tenantID: row["tenant_id"], key: row["idempotency_key"]) }
        }
    }

    public func replaceClearPersonalData(_ batch: SealedBackfill) async throws {
        try await write { db in
            for v in batch.verifications {
                try db.execute(
                    sql: """
                        UPDATE verifications SET destination = ?, reference = NULL, context = NULL, sealed_fields = ?
                        WHERE id = ? AND sealed_fields IS NULL
                        """, arguments: [v.destinationKey, v.sealedFields, v.id])
            }
            for rekey in batch.destinations {
                try db.execute(sql: Self.mergeDestination, arguments: [rekey.key, rekey.tenantID, rekey.clear])
                try db.execute(sql: "DELETE FROM destinations WHERE tenant_id = ? AND destination = ?", arguments: [rekey.tenantID, rekey.clear])
            }
            for record in batch.idempotencyRecords {
                try db.execute(
                    sql: "UPDATE idempotency_keys SET response = ? WHERE tenant_id = ? AND idempotency_key = ?",
                    arguments: [record.response.withoutSecrets.snapshotJSON, record.tenantID, record.key])
            }
        }
    }

    /// Copies a clear-keyed destination record under its blind index, merging with one already there: the longer
    /// run of failures and the later lock win.
    static let mergeDestination = """
        INSERT INTO destinations (tenant_id, destination, failed_checks, first_failure_at, locked_until)
        SELECT tenant_id, ?1, failed_checks, first_failure_at, locked_until FROM destinations WHERE tenant_id = ?2 AND destination = ?3
        ON CONFLICT (tenant_id, destination) DO UPDATE SET
            failed_checks = CASE WHEN excluded.failed_checks > destinations.failed_checks THEN excluded.failed_checks ELSE destinations.failed_checks END,
            first_failure_at = COALESCE(destinations.first_failure_at, excluded.first_failure_at),
            locked_until = CASE WHEN destinations.locked_until IS NULL OR excluded.locked_until > destinations.locked_until
                THEN excluded.locked_until ELSE destinations.locked_until END
        """
}
