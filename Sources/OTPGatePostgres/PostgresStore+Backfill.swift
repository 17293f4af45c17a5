import Foundation
public import OTPGateCore
import PostgresNIO

extension PostgresStore {
    public func verificationsInClear(limit: Int) async throws -> [Verification] {
        try await rows("SELECT * FROM verifications WHERE sealed_fields IS NULL ORDER BY id LIMIT \(limit)").map(Self.verification)
    }

    public func destinationsInClear(limit: Int) async throws -> [DestinationState] {
        try await rows(
            """
            SELECT * FROM destinations WHERE substr(destination, 1, 4) <> \(PersonalDataCipher.indexPrefix)
            ORDER BY tenant_id, destination LIMIT \(limit)
            """
        ).map(PostgresDatabase.destinationState)
    }

    public func idempotencyRecordsInClear(limit: Int) async throws -> [IdempotencyRecord] {
        try await rows(
            """
            SELECT tenant_id, idempotency_key, request_hash, response, created_at FROM idempotency_keys
            WHERE position('"sealedFields"' in response) = 0 ORDER BY tenant_id, idempotency_key LIMIT \(limit)
            """
        ).map { row in
            IdempotencyRecord(
                tenantID: try row["tenant_id"].decode(String.self), key: try row["idempotency_key"].decode(String.self),
                requestHash: Array(buffer: try row["request_hash"].decode(ByteBuffer.self)),
                response: try Verification(snapshotJSON: try row["response"].decode(String.self)),
                createdAt: Timestamp(milliseconds: try row["created_at"].decode(Int64.self)))
        }
    }

    public func replaceClearPersonalData(_ batch: SealedBackfill) async throws {
        try await transaction { connection in
            for v in batch.verifications {
                try await connection.query(
                    """
                    UPDATE verifications SET destination = \(v.destinationKey), reference = NULL, context = NULL,
                        sealed_fields = \(ByteBuffer(bytes: Array(v.sealedFields)))
                    WHERE id = \(v.id) AND sealed_fields IS NULL
                    """, logger: self.logger)
            }
            // Both keys locked as a check locks them (under its clear value or its blind index, depending on how far its
            // verification's own backfill got), so a check in flight cannot overwrite the merge with what it read before.
            // A check on a verification still in clear may write a clear record after this one is deleted; the next
            // pass merges it too (the longer run wins, runs are not added).
            try await self.database.lockDestinations(
                batch.destinations.flatMap { rekey in
                    [rekey.clear, rekey.key].map { DestinationKey(tenantID: rekey.tenantID, destinationKey: $0) }
                }, on: connection)
            for rekey in batch.destinations {
                // The longer run of failures and the later lock win over a record already under the blind index.
                try await connection.query(
                    """
                    INSERT INTO destinations (tenant_id, destination, failed_checks, first_failure_at, locked_until)
                    SELECT tenant_id, \(rekey.key), failed_checks, first_failure_at, locked_until FROM destinations
                    WHERE tenant_id = \(rekey.tenantID) AND destination = \(rekey.clear)
                    ON CONFLICT (tenant_id, destination) DO UPDATE SET
                        failed_checks = GREATEST(destinations.failed_checks, excluded.failed_checks),
                        first_failure_at = COALESCE(destinations.first_failure_at, excluded.first_failure_at),
                        locked_until = GREATEST(destinations.locked_until, excluded.locked_until)
                    """, logger: self.logger)
                try await connection.query(
                    "DELETE FROM destinations WHERE tenant_id = \(rekey.tenantID) AND destination = \(rekey.clear)", logger: self.logger)
            }
            for record in batch.idempotencyRecords {
                try await connection.query(
                    """
                    UPDATE idempotency_keys SET response = \(record.response.withoutSecrets.snapshotJSON)
                    WHERE tenant_id = \(record.tenantID) AND idempotency_key = \(record.key)
                    """, logger: self.logger)
            }
        }
    }
}
