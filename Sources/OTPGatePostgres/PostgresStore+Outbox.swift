import Foundation
import Logging
public import OTPGateCore
import PostgresNIO

extension PostgresStore {
    static func outboxMessage(_ row: PostgresRandomAccessRow) throws -> OutboxMessage {
        guard let channel = Channel(rawValue: try row["channel"].decode(String.self)),
              let state = OutboxState(rawValue: try row["state"].decode(String.self))
        else { throw StoreError(.corrupt, "outbox row with unknown channel or state") }
        return OutboxMessage(
            id: try row["id"].decode(String.self), tenantID: try row["tenant_id"].decode(String.self),
            verificationID: try row["verification_id"].decode(String.self), channel: channel,
            sealedPayload: try row["payload"].decode(ByteBuffer?.self).map { Array(buffer: $0) }, state: state,
            attempts: try row["attempts"].decode(Int.self), createdAt: Timestamp(milliseconds: try row["created_at"].decode(Int64.self)),
            nextAttemptAt: Timestamp(milliseconds: try row["next_attempt_at"].decode(Int64.self)),
            expiresAt: Timestamp(milliseconds: try row["expires_at"].decode(Int64.self)),
            leaseUntil: try row["lease_until"].decode(Int64?.self).map(Timestamp.init(milliseconds:)),
            lastError: try row["last_error"].decode(String?.self))
    }

    /// `FOR UPDATE SKIP LOCKED`: concurrent workers on any instance claim disjoint messages without waiting.
    public func claimOutbox(limit: Int, now: Timestamp, leaseUntil: Timestamp) async throws -> [OutboxMessage] {
        try await rows(
            """
            UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = \(leaseUntil.milliseconds), next_attempt_at = \(leaseUntil.milliseconds)
            WHERE id IN (
                SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= \(now.milliseconds)
                ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING *
            """
        ).map(Self.outboxMessage).sorted { ($0.nextAttemptAt, $0.createdAt) < ($1.nextAttemptAt, $1.createdAt) }
    }

    public func finishOutbox(_ results: [DeliveryResult], now: Timestamp) async throws {
        guard !results.isEmpty else { return }
        try await transaction { connection in
            // `attempts` fences out a worker whose lease ran out and whose message was claimed again.
            let sent = results.filter { $0.outcome == .sent }
            if !sent.isEmpty {
                try await connection.query(
                    """
                    UPDATE outbox SET state = 'sent', payload = NULL, lease_until = NULL, finished_at = \(now.milliseconds), last_error = NULL
                    FROM unnest(\(sent.map(\.messageID)), \(sent.map(\.attempt))) AS done(id, attempts)
                    WHERE outbox.id = done.id AND outbox.attempts = done.attempts AND outbox.state = 'sending'
                    """, logger: self.logger)
            }
            for result in results where result.outcome != .sent {
                let id = result.messageID
                let attempt = result.attempt
                switch result.outcome {
                case .sent: break
                case .retry(let at, let error):
                    try await connection.query(
                        """
                        UPDATE outbox SET state = 'pending', lease_until = NULL, next_attempt_at = \(at.milliseconds), last_error = \(error)
                        WHERE id = \(id) AND attempts = \(attempt) AND state = 'sending'
                        """, logger: self.logger)
                case .failed(let error):
                    try await connection.query(
                        """
                        UPDATE outbox SET state = 'failed', payload = NULL, lease_until = NULL, finished_at = \(now.milliseconds), last_error = \(error)
                        WHERE id = \(id) AND attempts = \(attempt) AND state = 'sending'
                        """, logger: self.logger)
                case .expired:
                    try await connection.query(
                        """
                        UPDATE outbox SET state = 'expired', payload = NULL, lease_until = NULL, finished_at = \(now.milliseconds)
                        WHERE id = \(id) AND attempts = \(attempt) AND state = 'sending'
                        """, logger: self.logger)
                }
            }
        }
    }

    public func outboxMessages(verificationID: String) async throws -> [OutboxMessage] {
        let range = NewOutboxMessage.idRange(verificationID: verificationID)
        return try await rows("SELECT * FROM outbox WHERE id >= \(range.lower) AND id < \(range.upper) ORDER BY created_at, id").map(Self.outboxMessage)
    }

    public func sweep(now: Timestamp, retention: Duration) async throws -> SweepReport {
        try await transaction { connection in
            var report = SweepReport()
            let expired = try await self.rows(
                """
                UPDATE verifications SET state = 'expired', updated_at = \(now.milliseconds)
                WHERE state = 'pending' AND expires_at <= \(now.milliseconds) RETURNING channel
                """, on: connection)
            for row in expired {
                if let channel = Channel(rawValue: try row["channel"].decode(String.self)) { report.expiredByChannel[channel, default: 0] += 1 }
            }
            try await connection.query(
                """
                UPDATE outbox SET state = 'expired', payload = NULL, lease_until = NULL, finished_at = \(now.milliseconds)
                WHERE state IN ('pending', 'sending') AND expires_at <= \(now.milliseconds)
                """, logger: self.logger)
            let cutoff = (now - retention).milliseconds
            let deletions: [PostgresQuery] = [
                "DELETE FROM idempotency_keys WHERE created_at < \((now - .seconds(86_400)).milliseconds) RETURNING 1",
                "DELETE FROM consumed_tokens WHERE expires_at < \(now.milliseconds) RETURNING 1",
                "DELETE FROM request_counters WHERE window_start < \(now.seconds - 60) RETURNING 1",
                "DELETE FROM outbox WHERE state NOT IN ('pending', 'sending') AND created_at < \(cutoff) RETURNING 1",
                "DELETE FROM verifications WHERE state <> 'pending' AND updated_at < \(cutoff) RETURNING 1",
                "DELETE FROM destinations WHERE failed_checks = 0 AND (locked_until IS NULL OR locked_until < \(now.milliseconds)) RETURNING 1",
            ]
            for query in deletions { report.deletedRows += try await self.rows(query, on: connection).count }
            return report
        }
    }
}
