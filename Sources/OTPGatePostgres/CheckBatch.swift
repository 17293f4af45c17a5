import Foundation
import OTPGateCore
import PostgresNIO

/// Checks of many requests in one transaction: count them against their keys, lock their verifications (one
/// `SELECT … FOR UPDATE` in id order) and destinations, decide each with `CheckDecider` in arrival order (a
/// later check of the same verification or destination sees the earlier one's effect), and write every changed
/// verification and destination in one statement. A refusal is one request's answer: returned, never thrown.
struct CheckBatch: Sendable {
    let database: PostgresDatabase
    let commands: [CheckCommand]

    func run(until deadline: ContinuousClock.Instant) async -> [Result<CheckOutcome, any Error>] {
        await database.runBatch(commands, keyRequests: commands.map(\.keyRequest), until: deadline) { [database] jobs, counted, connection in
            try await Self.apply(jobs, counted: counted, on: connection, database: database)
        }
    }

    static func apply(
        _ jobs: [CheckCommand], counted: KeyCounting, on connection: PostgresConnection, database: PostgresDatabase
    ) async throws -> [Result<CheckOutcome, any Error>] {
        var ids = BatchJSON()
        for id in Set(jobs.map(\.id)) { ids.append(["id": .string(id)]) }
        var verifications: [String: Verification] = [:]
        for row in try await database.execute(LockVerifications(rows: ids), on: connection) {
            let v = try PostgresStore.verification(row)
            verifications[v.id] = v
        }
        // Only the destinations of the callers' own verifications are locked (another tenant's id is refused).
        var destinations = try await database.lockAndReadDestinations(
            jobs.compactMap { job in verifications[job.id].flatMap { $0.tenantID == job.tenantID ? $0 : nil } }
                .map { DestinationKey(tenantID: $0.tenantID, destinationKey: $0.destinationKey) }, on: connection)

        let keyRefusals = try await counted.value
        var changedVerifications: Set<String> = []
        var changedDestinations: Set<DestinationKey> = []
        var results: [Result<CheckOutcome, any Error>] = []
        var audits = BatchJSON()
        for (index, job) in jobs.enumerated() {
            if let refusal = keyRefusals[index] {
                results.append(.failure(refusal))
                continue
            }
            let v = verifications[job.id]
            let key = v.map { DestinationKey(tenantID: $0.tenantID, destinationKey: $0.destinationKey) }
            switch CheckDecider.decide(job, verification: v, destination: key.flatMap { destinations[$0] }) {
            case .refuse(let refusal): results.append(.failure(refusal))
            case .apply(let writes):
                // A later check of the same verification or destination in this batch sees this one's effect.
                verifications[job.id] = writes.verification
                changedVerifications.insert(job.id)
                if let key, let destination = writes.destination {
                    destinations[key] = destination
                    changedDestinations.insert(key)
                }
                if let actor = job.audit { audits.append(InsertAuditEntries.row(.check(writes, by: actor, now: job.now))) }
                results.append(.success(writes.outcome))
            }
        }

        var updates = BatchJSON()
        for id in changedVerifications.sorted() {
            guard let v = verifications[id] else { continue }
            var row: [String: JSONValue] = [
                "id": .string(v.id), "state": .string(v.state.rawValue), "attempts": .int(v.attempts), "updated_at": .time(v.updatedAt),
            ]
            if let event = WebhookEventType.after(check: v) {
                row["event"] = .string(event.rawValue)
                row["tenant_id"] = .string(v.tenantID)
                row["channel"] = .string(v.channel.rawValue)
                row["purpose"] = .text(v.purpose)
            }
            updates.append(row)
        }
        if !updates.isEmpty {
            _ = try await database.execute(SaveChecks(rows: updates), on: connection)
        }
        try await database.saveDestinations(changedDestinations.compactMap { destinations[$0] }, on: connection)
        if !audits.isEmpty { _ = try await database.execute(InsertAuditEntries(rows: audits), on: connection) }
        return results
    }
}

/// The batch's verifications, locked in id order.
struct LockVerifications: BatchStatement {
    static let sql = """
        SELECT * FROM verifications WHERE id = ANY(ARRAY(SELECT x.id FROM jsonb_to_recordset($1) AS x(id text)))
        ORDER BY id FOR UPDATE
        """
    let rows: BatchJSON
}

/// The checked verifications, and the webhook event each approval or last wrong code reports (for a tenant whose
/// endpoint takes it), in one statement.
struct SaveChecks: BatchStatement {
    static let sql = """
        WITH x AS (
            SELECT * FROM jsonb_to_recordset($1) AS x(
                id text, state text, attempts int, updated_at bigint, event text, tenant_id text, channel text, purpose text)),
        saved AS (
            UPDATE verifications SET state = x.state, attempts = x.attempts, updated_at = x.updated_at
            FROM x WHERE verifications.id = x.id RETURNING 1),
        events AS (
            INSERT INTO webhook_events (id, tenant_id, type, verification_id, channel, purpose, state, attempts, created_at, next_attempt_at)
            SELECT x.id || '.' || x.event, x.tenant_id, x.event, x.id, x.channel, x.purpose, 'pending', 0, x.updated_at, x.updated_at
            FROM x JOIN webhook_endpoints w ON w.tenant_id = x.tenant_id AND strpos(w.events, ',' || x.event || ',') > 0
            WHERE x.event IS NOT NULL
            ON CONFLICT (id) DO NOTHING RETURNING 1)
        SELECT (SELECT count(*) FROM saved) AS saved
        """
    let rows: BatchJSON
}
