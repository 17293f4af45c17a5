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
            lastError: try row["last_error"].decode(String?.self), provider: try row["provider"].decode(String?.self),
            providerMessageID: try row["provider_message_id"].decode(String?.self),
            finishedAt: try row["finished_at"].decode(Int64?.self).map(Timestamp.init(milliseconds:)))
    }

    /// `FOR UPDATE SKIP LOCKED`: concurrent workers on any instance claim disjoint messages without waiting.
    public func claimOutbox(limit: Int, now: Timestamp, leaseUntil: Timestamp) async throws -> [OutboxMessage] {
        // A due message of an approved verification (a retry, a fallback) has nothing left to prove: never sent.
        _ = try await rows(
            """
            UPDATE outbox SET state = 'superseded', payload = NULL, lease_until = NULL, finished_at = \(now.milliseconds)
            WHERE id IN (
                SELECT o.id FROM outbox o JOIN verifications v ON v.id = o.verification_id
                WHERE o.state IN ('pending', 'sending') AND o.next_attempt_at <= \(now.milliseconds) AND v.state = 'approved'
                FOR UPDATE OF o SKIP LOCKED)
            RETURNING 1
            """)
        return try await rows(
            """
            UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = \(leaseUntil.milliseconds), next_attempt_at = \(leaseUntil.milliseconds)
            WHERE id IN (
                SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= \(now.milliseconds)
                ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING *
            """
        ).map(Self.outboxMessage).sorted { ($0.nextAttemptAt, $0.createdAt) < ($1.nextAttemptAt, $1.createdAt) }
    }

    /// All outcomes in one statement (atomic without a transaction). `attempts` fences out a worker whose lease
    /// ran out and whose message was claimed again.
    public func finishOutbox(_ results: [DeliveryResult], now: Timestamp) async throws {
        guard !results.isEmpty else { return }
        var rows = BatchJSON()
        for result in results {
            var row: [String: JSONValue] = ["id": .string(result.messageID), "attempts": .int(result.attempt), "now": .time(now)]
            row["provider"] = result.provider.map(JSONValue.string)
            row["step"] = FallbackDecider.step(after: result).map { .string($0.rawValue) }
            switch result.outcome {
            case .sent(let providerMessageID):
                row["state"] = .string(OutboxState.sent.rawValue)
                row["provider_message_id"] = providerMessageID.map(JSONValue.string)
            case .retry(let at, let error):
                row["state"] = .string(OutboxState.pending.rawValue)
                row["next_attempt_at"] = .time(at)
                row["error"] = .string(error)
            case .failed(let error):
                row["state"] = .string(OutboxState.failed.rawValue)
                row["error"] = .string(error)
            case .expired: row["state"] = .string(OutboxState.expired.rawValue)
            }
            rows.append(row)
        }
        let statement = FinishDeliveries(rows: rows)
        _ = try await connection { connection in try await self.database.execute(statement, on: connection) }
    }

    public func outboxMessages(verificationID: String) async throws -> [OutboxMessage] {
        let range = NewOutboxMessage.idRange(verificationID: verificationID)
        return try await rows("SELECT * FROM outbox WHERE id >= \(range.lower) AND id < \(range.upper) ORDER BY created_at, id").map(
            Self.outboxMessage)
    }

    public func claimsHeld(_ claims: [OutboxClaim]) async throws -> Set<String> {
        guard !claims.isEmpty else { return [] }
        var input = BatchJSON()
        for claim in claims { input.append(["id": .string(claim.messageID), "attempts": .int(claim.attempt)]) }
        let statement = HeldClaims(rows: input)
        let rows = try await connection { connection in try await self.database.execute(statement, on: connection) }
        return Set(try rows.map { try $0["id"].decode(String.self) })
    }

    public func nextOutboxDue() async throws -> Timestamp? {
        try await rows("SELECT min(next_attempt_at) AS due FROM outbox WHERE state IN ('pending', 'sending')")
            .first.flatMap { try $0["due"].decode(Int64?.self) }.map(Timestamp.init(milliseconds:))
    }

    public func recordDeliveryReports(_ reports: [DeliveryReport], now: Timestamp) async throws -> Int {
        guard !reports.isEmpty else { return 0 }
        var input = BatchJSON()
        for report in reports {
            var row: [String: JSONValue] = [
                "provider": .string(report.provider), "id": .string(report.providerMessageID),
                "state": .string(report.delivered ? "delivered" : "failed"), "now": .time(now),
                "step": .string(FallbackDecider.step(after: report).rawValue),
            ]
            row["error"] = report.error.map(JSONValue.string)
            input.append(row)
        }
        let statement = ApplyDeliveryReports(rows: input)
        return try await connection { connection in try await self.database.execute(statement, on: connection) }.count
    }

    public func outboxBacklog() async throws -> (depth: Int, oldest: Timestamp?) {
        let row = try await rows("SELECT count(*)::bigint AS n, min(created_at) AS oldest FROM outbox WHERE state IN ('pending', 'sending')").first
        return (
            try row?["n"].decode(Int.self) ?? 0, try row?["oldest"].decode(Int64?.self).map(Timestamp.init(milliseconds:))
        )
    }

    // MARK: housekeeping

    public func nextExpiry() async throws -> Timestamp? {
        try await rows("SELECT min(expires_at) AS due FROM verifications WHERE state = 'pending'")
            .first.flatMap { try $0["due"].decode(Int64?.self) }.map(Timestamp.init(milliseconds:))
    }

    /// Each step in batches of `plan.batchSize` rows, each batch a statement (and commit) of its own, so a large
    /// sweep never holds many row locks or one long transaction.
    public func sweep(_ plan: SweepPlan) async throws -> SweepReport {
        var report = SweepReport()
        let now = plan.now.milliseconds
        let limit = plan.batchSize
        while true {
            // Each expiry and its `verification.expired` event (for tenants whose endpoint takes it) in one statement.
            let expired = try await rows(
                """
                WITH expired AS (
                    UPDATE verifications SET state = 'expired', updated_at = \(now) WHERE id IN (
                        SELECT id FROM verifications WHERE state = 'pending' AND expires_at <= \(plan.expireBefore.milliseconds)
                        LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                    RETURNING id, tenant_id, channel, purpose, attempts >= max_attempts AS failed),
                events AS (
                    INSERT INTO webhook_events (id, tenant_id, type, verification_id, channel, purpose, state, attempts, created_at, next_attempt_at)
                    SELECT e.id || '.verification.expired', e.tenant_id, 'verification.expired', e.id, e.channel, e.purpose, 'pending', 0,
                        \(now), \(now)
                    FROM expired e JOIN webhook_endpoints w ON w.tenant_id = e.tenant_id AND strpos(w.events, ',verification.expired,') > 0
                    WHERE NOT e.failed
                    ON CONFLICT (id) DO NOTHING RETURNING 1)
                SELECT channel FROM expired
                """)
            for row in expired {
                if let channel = Channel(rawValue: try row["channel"].decode(String.self)) { report.expiredByChannel[channel, default: 0] += 1 }
            }
            if expired.count < limit { break }
        }
        _ = try await changedInBatches(
            """
            UPDATE outbox SET state = 'expired', payload = NULL, lease_until = NULL, finished_at = \(now) WHERE id IN (
                SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND expires_at <= \(plan.expireBefore.milliseconds)
                LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """, limit: limit)
        let deletions: [PostgresQuery] = [
            """
            DELETE FROM idempotency_keys WHERE ctid IN (
                SELECT ctid FROM idempotency_keys WHERE created_at < \(plan.idempotencyBefore.milliseconds) LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM consumed_tokens WHERE ctid IN (
                SELECT ctid FROM consumed_tokens WHERE expires_at < \(plan.consumedTokensBefore.milliseconds) LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM profile_sessions WHERE ctid IN (
                SELECT ctid FROM profile_sessions WHERE expires_at < \(plan.now.milliseconds) LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM request_nonces WHERE ctid IN (
                SELECT ctid FROM request_nonces WHERE expires_at < \(plan.now.milliseconds) LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM request_counters WHERE ctid IN (
                SELECT ctid FROM request_counters WHERE window_start < \(plan.keyCounterWindowsBefore) LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM budget_usage WHERE ctid IN (
                SELECT ctid FROM budget_usage WHERE window_end < \(plan.keyCounterWindowsBefore) LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM prefix_traffic WHERE ctid IN (
                SELECT ctid FROM prefix_traffic WHERE bucket < \(plan.trafficBucketsBefore) LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM abuse_holds WHERE ctid IN (
                SELECT ctid FROM abuse_holds WHERE held_until < \(plan.finishedBefore.milliseconds) LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM webhook_events WHERE ctid IN (
                SELECT ctid FROM webhook_events WHERE state IN ('delivered', 'failed') AND created_at < \(plan.finishedBefore.milliseconds)
                LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM outbox WHERE ctid IN (
                SELECT ctid FROM outbox WHERE state NOT IN ('pending', 'sending') AND created_at < \(plan.finishedBefore.milliseconds)
                LIMIT \(limit)) RETURNING 1
            """,
            """
            DELETE FROM verifications WHERE ctid IN (
                SELECT ctid FROM verifications WHERE state <> 'pending' AND updated_at < \(plan.finishedBefore.milliseconds) LIMIT \(limit))
            RETURNING 1
            """,
            """
            DELETE FROM destinations WHERE ctid IN (
                SELECT ctid FROM destinations WHERE failed_checks = 0
                    AND (locked_until IS NULL OR locked_until < \(plan.unlockedBefore.milliseconds)) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """,
            // Entries first: a sweep stopped in between leaves only checkpoints that pin nothing.
            """
            DELETE FROM audit_entries WHERE ctid IN (SELECT e.ctid FROM audit_entries e JOIN (
                SELECT tenant_id, max(seq) AS seq FROM audit_checkpoints WHERE at < \(plan.auditBefore.milliseconds) GROUP BY tenant_id) k
                ON e.tenant_id = k.tenant_id AND e.seq <= k.seq LIMIT \(limit))
            RETURNING 1
            """,
            """
            DELETE FROM audit_checkpoints WHERE ctid IN (SELECT c.ctid FROM audit_checkpoints c JOIN (
                SELECT tenant_id, max(seq) AS seq FROM audit_checkpoints WHERE at < \(plan.auditBefore.milliseconds) GROUP BY tenant_id) k
                ON c.tenant_id = k.tenant_id AND c.seq < k.seq LIMIT \(limit))
            RETURNING 1
            """,
        ]
        for query in deletions { report.deletedRows += try await changedInBatches(query, limit: limit) }
        return report
    }

    /// Runs `query` (which returns a row per changed row) until a run changes fewer than `limit` rows.
    private func changedInBatches(_ query: PostgresQuery, limit: Int) async throws -> Int {
        var total = 0
        while true {
            let changed = try await rows(query).count
            total += changed
            if changed < limit { return total }
        }
    }
}

/// The claims that still hold: the message is `sending` under the same attempt.
struct HeldClaims: BatchStatement {
    static let sql = """
        SELECT outbox.id FROM outbox JOIN jsonb_to_recordset($1) AS x(id text, attempts int)
            ON outbox.id = x.id AND outbox.attempts = x.attempts
        WHERE outbox.state = 'sending'
        """
    let rows: BatchJSON
}

/// Delivery outcomes: a retry keeps its payload and waits for `next_attempt_at`; any other outcome is final and
/// drops the sealed payload.
struct FinishDeliveries: BatchStatement {
    static let sql = """
        WITH done AS (
        UPDATE outbox SET
            state = x.state,
            payload = CASE WHEN x.state = 'pending' THEN outbox.payload END,
            lease_until = NULL,
            next_attempt_at = COALESCE(x.next_attempt_at, outbox.next_attempt_at),
            finished_at = CASE WHEN x.state = 'pending' THEN outbox.finished_at ELSE x.now END,
            last_error = CASE WHEN x.state = 'expired' THEN outbox.last_error ELSE x.error END,
            provider = COALESCE(x.provider, outbox.provider),
            provider_message_id = CASE WHEN x.state = 'sent' THEN x.provider_message_id ELSE outbox.provider_message_id END
        FROM jsonb_to_recordset($1) AS x(
            id text, attempts int, state text, next_attempt_at bigint, error text, now bigint, provider text, provider_message_id text,
            step text)
        WHERE outbox.id = x.id AND outbox.attempts = x.attempts AND outbox.state = 'sending'
        RETURNING outbox.id, outbox.tenant_id, outbox.verification_id, outbox.channel, outbox.state, outbox.last_error, x.now, x.step),
        \(DeliveryFailedEvents.sql),
        \(FallbackStepsCTE.sql)
        SELECT count(*) AS finished FROM done
        """
    let rows: BatchJSON
}

/// The `delivery.failed` events of the failed messages in `done` (id, tenant_id, verification_id, channel, state,
/// last_error, now), for tenants whose endpoint takes them: a CTE of the statement that failed them.
enum DeliveryFailedEvents {
    static let sql = """
        failed_events AS (
            INSERT INTO webhook_events (id, tenant_id, type, verification_id, message_id, channel, purpose, error, state, attempts,
                created_at, next_attempt_at)
            SELECT d.id || '.delivery.failed', d.tenant_id, 'delivery.failed', d.verification_id, d.id, d.channel, v.purpose,
                d.last_error, 'pending', 0, d.now, d.now
            FROM done d JOIN webhook_endpoints w ON w.tenant_id = d.tenant_id AND strpos(w.events, ',delivery.failed,') > 0
            LEFT JOIN verifications v ON v.id = d.verification_id
            WHERE d.state = 'failed'
            ON CONFLICT (id) DO NOTHING RETURNING 1)
        """
}

/// Delivery reports: a `sent` message found by its provider's id becomes `delivered` or `failed`.
struct ApplyDeliveryReports: BatchStatement {
    static let sql = """
        WITH done AS (
            UPDATE outbox SET state = x.state, finished_at = x.now, last_error = x.error
            FROM jsonb_to_recordset($1) AS x(provider text, id text, state text, error text, now bigint, step text)
            WHERE outbox.provider = x.provider AND outbox.provider_message_id = x.id AND outbox.state = 'sent'
            RETURNING outbox.id, outbox.tenant_id, outbox.verification_id, outbox.channel, outbox.state, outbox.last_error, x.now, x.step),
        \(DeliveryFailedEvents.sql),
        \(FallbackStepsCTE.sql)
        SELECT id, state FROM done
        """
    let rows: BatchJSON
}

/// Releases (due now) or supersedes the waiting fallback message of each message in `done` (id, step, now) whose outcome
/// calls for it (`FallbackDecider`): a CTE of the statement that recorded the outcome, so a fenced-out outcome (not in
/// `done`) touches nothing, and the two changes commit together.
enum FallbackStepsCTE {
    static let sql = """
        fallbacks AS (
            UPDATE outbox SET
                state = CASE WHEN d.step = 'supersede' THEN 'superseded' ELSE outbox.state END,
                payload = CASE WHEN d.step = 'supersede' THEN NULL ELSE outbox.payload END,
                finished_at = CASE WHEN d.step = 'supersede' THEN d.now ELSE outbox.finished_at END,
                next_attempt_at = CASE WHEN d.step = 'release' THEN LEAST(outbox.next_attempt_at, d.now) ELSE outbox.next_attempt_at END
            FROM done d
            WHERE d.step IS NOT NULL AND outbox.id = d.id || '.\(NewOutboxMessage.fallbackPart)' AND outbox.state = 'pending'
            RETURNING 1)
        """
}
