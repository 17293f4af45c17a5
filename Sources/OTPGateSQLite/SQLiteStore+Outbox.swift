import Foundation
import GRDB
public import OTPGateCore

extension SQLiteStore {
    /// The columns `outboxMessage` reads, in its order: rows are read by position (a name lookup per column cost
    /// more than the column, for every message the worker claims).
    static let outboxColumns = """
        id, tenant_id, verification_id, channel, payload, state, attempts, created_at, next_attempt_at, expires_at,
        lease_until, last_error, provider, provider_message_id, finished_at
        """

    static func outboxMessage(_ row: Row) throws -> OutboxMessage {
        guard let channel = Channel(rawValue: row[3]), let state = OutboxState(rawValue: row[5]) else {
            throw StoreError(.corrupt, "outbox row with unknown channel or state")
        }
        return OutboxMessage(
            id: row[0], tenantID: row[1], verificationID: row[2], channel: channel,
            sealedPayload: (row[4] as Data?).map(Array.init), state: state, attempts: row[6],
            createdAt: Timestamp(milliseconds: row[7]), nextAttemptAt: Timestamp(milliseconds: row[8]),
            expiresAt: Timestamp(milliseconds: row[9]), leaseUntil: (row[10] as Int64?).map(Timestamp.init(milliseconds:)),
            lastError: row[11], provider: row[12], providerMessageID: row[13],
            finishedAt: (row[14] as Int64?).map(Timestamp.init(milliseconds:)))
    }

    public func claimOutbox(limit: Int, now: Timestamp, leaseUntil: Timestamp) async throws -> [OutboxMessage] {
        try await write { db in
            // A due message of an approved verification (a retry, a fallback) has nothing left to prove: never sent.
            try db.cachedStatement(
                sql: """
                    UPDATE outbox SET state = 'superseded', payload = NULL, lease_until = NULL, finished_at = ?
                    WHERE id IN (
                        SELECT o.id FROM outbox o JOIN verifications v ON v.id = o.verification_id
                        WHERE o.state IN ('pending', 'sending') AND o.next_attempt_at <= ? AND v.state = 'approved')
                    """
            ).execute(arguments: [now.milliseconds, now.milliseconds])
            // A claimed message's next_attempt_at is its lease end, so one index finds both due and abandoned claims.
            return try RowsInPlace.all(
                db.cachedStatement(
                    sql: """
                        UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?, next_attempt_at = ?
                        WHERE id IN (SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)
                        RETURNING \(Self.outboxColumns)
                        """),
                arguments: [leaseUntil.milliseconds, leaseUntil.milliseconds, now.milliseconds, limit], Self.outboxMessage
            ).sorted { ($0.nextAttemptAt, $0.createdAt) < ($1.nextAttemptAt, $1.createdAt) }
        }
    }

    public func finishOutbox(_ results: [DeliveryResult], now: Timestamp) async throws {
        guard !results.isEmpty else { return }
        try await write { db in
            // The common case, a batch of successful sends, is one statement; the rest one each. Only outcomes whose claim
            // still held (`applied`) touch fallbacks or write events: a worker whose lease ran out changes nothing.
            var applied: Set<String> = []
            let sent = results.filter(\.isSent)
            for start in stride(from: 0, to: sent.count, by: Self.maxRowsPerStatement) {
                let chunk = sent[start..<min(start + Self.maxRowsPerStatement, sent.count)]
                let rowCount = Self.paddedCount(chunk.count)
                let rows = Array(repeating: "(?, ?, ?, ?)", count: rowCount).joined(separator: ", ")
                var arguments: StatementArguments = [now.milliseconds]
                for result in Self.padded(chunk, to: rowCount) {
                    guard case .sent(let providerMessageID) = result.outcome else { continue }
                    arguments += [result.messageID, result.attempt, result.provider, providerMessageID]
                }
                // The join on `outbox.id` uses the primary key. Which rows changed matters only to a fallback step.
                let sql = """
                    UPDATE outbox SET state = 'sent', payload = NULL, lease_until = NULL, finished_at = ?, last_error = NULL,
                        provider = v.column3, provider_message_id = v.column4
                    FROM (VALUES \(rows)) AS v
                    WHERE outbox.id = v.column1 AND outbox.attempts = v.column2 AND outbox.state = 'sending'
                    """
                if chunk.contains(where: { FallbackDecider.step(after: $0) != nil }) {
                    applied.formUnion(try String.fetchAll(db.cachedStatement(sql: sql + " RETURNING outbox.id"), arguments: arguments))
                } else {
                    try db.cachedStatement(sql: sql).execute(arguments: arguments)
                }
            }
            for result in results where !result.isSent {
                try Self.finish(db, result, now: now)
                if db.changesCount > 0 { applied.insert(result.messageID) }
            }
            let held = results.filter { applied.contains($0.messageID) }
            try Self.applyFallbackSteps(db, held.compactMap { r in FallbackDecider.step(after: r).map { (r.messageID, $0) } }, now: now)
            try Self.recordDeliveryFailures(
                db, messageIDs: held.compactMap { r in if case .failed = r.outcome { r.messageID } else { nil } }, now: now)
        }
    }

    /// Releases or supersedes the waiting fallback messages of these first messages (`FallbackDecider`).
    static func applyFallbackSteps(_ db: Database, _ steps: [(messageID: String, step: FallbackDecider.Step)], now: Timestamp) throws {
        for step in [FallbackDecider.Step.release, .supersede] {
            let ids = steps.filter { $0.step == step }.map { FallbackDecider.fallbackID(of: $0.messageID) }
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                let change =
                    step == .release
                    ? "next_attempt_at = min(next_attempt_at, ?)" : "state = 'superseded', payload = NULL, finished_at = ?"
                var arguments: StatementArguments = [now.milliseconds]
                for id in chunk { arguments += [id] }
                try db.execute(sql: "UPDATE outbox SET \(change) WHERE id IN (\(marks)) AND state = 'pending'", arguments: arguments)
            }
        }
    }

    static func finish(_ db: Database, _ result: DeliveryResult, now: Timestamp) throws {
        let (id, attempt, provider) = (result.messageID, result.attempt, result.provider)
        // `attempts = ?` fences out a worker whose lease ran out and whose message was claimed again.
        switch result.outcome {
        case .sent(let providerMessageID):
            try db.execute(
                sql: """
                    UPDATE outbox SET state = 'sent', payload = NULL, lease_until = NULL, finished_at = ?, last_error = NULL, provider = ?,
                        provider_message_id = ?
                    WHERE id = ? AND attempts = ? AND state = 'sending'
                    """,
                arguments: [now.milliseconds, provider, providerMessageID, id, attempt])
        case .retry(let at, let error):
            try db.execute(
                sql: """
                    UPDATE outbox SET state = 'pending', lease_until = NULL, next_attempt_at = ?, last_error = ?, provider = coalesce(?, provider)
                    WHERE id = ? AND attempts = ? AND state = 'sending'
                    """,
                arguments: [at.milliseconds, error, provider, id, attempt])
        case .failed(let error):
            try db.execute(
                sql: """
                    UPDATE outbox SET state = 'failed', payload = NULL, lease_until = NULL, finished_at = ?, last_error = ?,
                        provider = coalesce(?, provider)
                    WHERE id = ? AND attempts = ? AND state = 'sending'
                    """,
                arguments: [now.milliseconds, error, provider, id, attempt])
        case .expired:
            try db.execute(
                sql:
                    "UPDATE outbox SET state = 'expired', payload = NULL, lease_until = NULL, finished_at = ? WHERE id = ? AND attempts = ? AND state = 'sending'",
                arguments: [now.milliseconds, id, attempt])
        }
    }

    public func outboxMessages(verificationID: String) async throws -> [OutboxMessage] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.outboxColumns) FROM outbox WHERE id >= ? AND id < ? ORDER BY created_at, id",
                arguments: [
                    NewOutboxMessage.idRange(verificationID: verificationID).lower, NewOutboxMessage.idRange(verificationID: verificationID).upper,
                ]
            ).map(Self.outboxMessage)
        }
    }

    public func claimsHeld(_ claims: [OutboxClaim]) async throws -> Set<String> {
        guard !claims.isEmpty else { return [] }
        return try await read { db in
            var held: Set<String> = []
            for start in stride(from: 0, to: claims.count, by: Self.maxRowsPerStatement) {
                let slice = claims[start..<min(start + Self.maxRowsPerStatement, claims.count)]
                let chunk = Self.padded(slice, to: Self.paddedCount(slice.count))
                let ids = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                let pairs = Array(repeating: "(?, ?)", count: chunk.count).joined(separator: ", ")
                var arguments: StatementArguments = []
                for claim in chunk { arguments += [claim.messageID] }
                for claim in chunk { arguments += [claim.messageID, claim.attempt] }
                let rows = try String.fetchAll(
                    db.cachedStatement(
                        sql: "SELECT id FROM outbox WHERE id IN (\(ids)) AND state = 'sending' AND (id, attempts) IN (VALUES \(pairs))"),
                    arguments: arguments)
                held.formUnion(rows)
            }
            return held
        }
    }

    public func nextOutboxDue() async throws -> Timestamp? {
        try await read { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT min(next_attempt_at) FROM outbox WHERE state IN ('pending', 'sending')")).map(
                Timestamp.init(milliseconds:))
        }
    }

    public func recordDeliveryReports(_ reports: [DeliveryReport], now: Timestamp) async throws -> Int {
        guard !reports.isEmpty else { return 0 }
        return try await write { db in
            var changed: [(messageID: String, step: FallbackDecider.Step)] = []
            for report in reports {
                let ids = try String.fetchAll(
                    db,
                    sql: """
                        UPDATE outbox SET state = ?, finished_at = ?, last_error = ?
                        WHERE provider = ? AND provider_message_id = ? AND state = 'sent'
                        RETURNING id
                        """,
                    arguments: [report.delivered ? "delivered" : "failed", now.milliseconds, report.error, report.provider, report.providerMessageID])
                changed += ids.map { ($0, FallbackDecider.step(after: report)) }
            }
            try Self.applyFallbackSteps(db, changed, now: now)
            try Self.recordDeliveryFailures(db, messageIDs: changed.filter { $0.step == .release }.map(\.messageID), now: now)
            return changed.count
        }
    }

    public func outboxBacklog() async throws -> (depth: Int, oldest: Timestamp?) {
        try await read { db in
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE state IN ('pending', 'sending')"))
            return (row?["n"] ?? 0, (row?["oldest"] as Int64?).map(Timestamp.init(milliseconds:)))
        }
    }

    // MARK: housekeeping

    public func nextExpiry() async throws -> Timestamp? {
        try await read { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT min(expires_at) FROM verifications WHERE state = 'pending'")).map(
                Timestamp.init(milliseconds:))
        }
    }

    public func sweep(_ plan: SweepPlan) async throws -> SweepReport {
        var report = SweepReport()
        let now = plan.now.milliseconds
        let limit = plan.batchSize
        report.expiredByChannel = try await inBatches(of: limit, merging: [Channel: Int]()) { db in
            let expired = try Row.fetchAll(
                db,
                sql: """
                    UPDATE verifications SET state = 'expired', updated_at = ? WHERE rowid IN (
                        SELECT rowid FROM verifications WHERE state = 'pending' AND expires_at <= ? LIMIT ?)
                    RETURNING id, tenant_id, channel, purpose, attempts >= max_attempts AS failed
                    """,
                arguments: [now, plan.expireBefore.milliseconds, limit])
            var counts: [Channel: Int] = [:]
            for row in expired {
                let channel = Channel(rawValue: row["channel"])
                if let channel { counts[channel, default: 0] += 1 }
                // A verification whose attempts were spent already had its terminal event (`verification.failed`).
                if row["failed"] as Bool { continue }
                try Self.recordEvent(
                    db, .verificationExpired, subject: row["id"], tenantID: row["tenant_id"], verificationID: row["id"], channel: channel,
                    purpose: row["purpose"], now: plan.now)
            }
            return (expired.count, counts)
        } merge: {
            $0.merge($1, uniquingKeysWith: +)
        }
        _ = try await changedInBatches(
            of: limit,
            """
            UPDATE outbox SET state = 'expired', payload = NULL, lease_until = NULL, finished_at = ? WHERE rowid IN (
                SELECT rowid FROM outbox WHERE state IN ('pending', 'sending') AND expires_at <= ? LIMIT ?)
            """, [now, plan.expireBefore.milliseconds])
        let deletions: [(String, StatementArguments)] = [
            (
                "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ? LIMIT ?)",
                [plan.idempotencyBefore.milliseconds]
            ),
            (
                "DELETE FROM consumed_tokens WHERE rowid IN (SELECT rowid FROM consumed_tokens WHERE expires_at < ? LIMIT ?)",
                [plan.consumedTokensBefore.milliseconds]
            ),
            (
                "DELETE FROM profile_sessions WHERE rowid IN (SELECT rowid FROM profile_sessions WHERE expires_at < ? LIMIT ?)",
                [plan.now.milliseconds]
            ),
            (
                "DELETE FROM request_nonces WHERE rowid IN (SELECT rowid FROM request_nonces WHERE expires_at < ? LIMIT ?)",
                [plan.now.milliseconds]
            ),
            (
                "DELETE FROM request_counters WHERE rowid IN (SELECT rowid FROM request_counters WHERE window_start < ? LIMIT ?)",
                [plan.keyCounterWindowsBefore]
            ),
            (
                "DELETE FROM budget_usage WHERE rowid IN (SELECT rowid FROM budget_usage WHERE window_end < ? LIMIT ?)",
                [plan.keyCounterWindowsBefore]
            ),
            (
                "DELETE FROM prefix_traffic WHERE rowid IN (SELECT rowid FROM prefix_traffic WHERE bucket < ? LIMIT ?)",
                [plan.trafficBucketsBefore]
            ),
            (
                "DELETE FROM abuse_holds WHERE rowid IN (SELECT rowid FROM abuse_holds WHERE held_until < ? LIMIT ?)",
                [plan.finishedBefore.milliseconds]
            ),
            (
                """
                DELETE FROM webhook_events WHERE rowid IN (
                    SELECT rowid FROM webhook_events WHERE state IN ('delivered', 'failed') AND created_at < ? LIMIT ?)
                """, [plan.finishedBefore.milliseconds]
            ),
            (
                "DELETE FROM outbox WHERE rowid IN (SELECT rowid FROM outbox WHERE state NOT IN ('pending', 'sending') AND created_at < ? LIMIT ?)",
                [plan.finishedBefore.milliseconds]
            ),
            (
                "DELETE FROM verifications WHERE rowid IN (SELECT rowid FROM verifications WHERE state <> 'pending' AND updated_at < ? LIMIT ?)",
                [plan.finishedBefore.milliseconds]
            ),
            (
                """
                DELETE FROM destinations WHERE rowid IN (SELECT rowid FROM destinations
                    WHERE failed_checks = 0 AND (locked_until IS NULL OR locked_until < ?) LIMIT ?)
                """, [plan.unlockedBefore.milliseconds]
            ),
            // Entries first: a sweep stopped in between leaves only checkpoints that pin nothing.
            (
                """
                DELETE FROM audit_entries WHERE rowid IN (SELECT e.rowid FROM audit_entries e JOIN (
                    SELECT tenant_id, max(seq) AS seq FROM audit_checkpoints WHERE at < ? GROUP BY tenant_id) k
                    ON e.tenant_id = k.tenant_id AND e.seq <= k.seq LIMIT ?)
                """, [plan.auditBefore.milliseconds]
            ),
            (
                """
                DELETE FROM audit_checkpoints WHERE rowid IN (SELECT c.rowid FROM audit_checkpoints c JOIN (
                    SELECT tenant_id, max(seq) AS seq FROM audit_checkpoints WHERE at < ? GROUP BY tenant_id) k
                    ON c.tenant_id = k.tenant_id AND c.seq < k.seq LIMIT ?)
                """, [plan.auditBefore.milliseconds]
            ),
        ]
        for (sql, arguments) in deletions {
            report.deletedRows += try await changedInBatches(of: limit, sql, arguments)
        }
        return report
    }

    /// Runs `sql` (whose last argument is the batch size) as separate writes until a batch changes fewer rows than
    /// `size`, so a large sweep never holds the writer for long; returns the rows changed.
    private func changedInBatches(of size: Int, _ sql: String, _ arguments: StatementArguments) async throws -> Int {
        try await inBatches(of: size, merging: 0) { db in
            try db.execute(sql: sql, arguments: arguments + [size])
            return (db.changesCount, db.changesCount)
        } merge: {
            $0 += $1
        }
    }

    private func inBatches<T: Sendable>(
        of size: Int, merging initial: T, _ step: @escaping @Sendable (Database) throws -> (changed: Int, value: T), merge: (inout T, T) -> Void
    ) async throws -> T {
        var total = initial
        while true {
            let (changed, value) = try await write(step)
            merge(&total, value)
            if changed < size { return total }
        }
    }
}
