import Foundation
import OTPGateCore
import PostgresNIO

/// Starts of many requests in one transaction: count them against their keys, lock their destinations, count each
/// destination's recent starts (a fresh statement after the locks, so it sees every start committed before), decide
/// each with `StartDecider` in arrival order, and insert the created verifications with their outbox messages in
/// one statement. A refusal is one request's answer, not the batch's: it is returned, never thrown.
///
/// Starts with an idempotency key take `PostgresStore`'s per-request transaction instead, since their key must be
/// claimed, replayed or refused before anything else.
struct StartBatch: Sendable {
    let database: PostgresDatabase
    let commands: [StartCommand]

    func run(until deadline: ContinuousClock.Instant) async -> [Result<StartResult, any Error>] {
        await database.runBatch(commands, keyRequests: commands.map(\.keyRequest), until: deadline) { [database] jobs, counted, connection in
            try await Self.apply(jobs, counted: counted, on: connection, database: database)
        }
    }

    static func apply(
        _ jobs: [StartCommand], counted: KeyCounting, on connection: PostgresConnection, database: PostgresDatabase
    ) async throws -> [Result<StartResult, any Error>] {
        func key(_ v: Verification) -> DestinationKey { DestinationKey(tenantID: v.tenantID, destinationKey: v.destinationKey) }

        try await database.lockDestinations(jobs.map { key($0.verification) }, on: connection)

        var windows = BatchJSON()
        for (index, job) in jobs.enumerated() {
            let v = job.verification
            windows.append([
                "i": .int(index), "t": .string(v.tenantID), "d": .string(v.destinationKey), "since": .time(StartDecider.windowStart(of: job)),
            ])
        }
        var recent: [Int: StartDecider.RecentStarts] = [:]
        var lockedUntil: [Int: Timestamp] = [:]
        for row in try await database.execute(RecentStarts(rows: windows), on: connection) {
            let index = try row["i"].decode(Int.self)
            recent[index] = StartDecider.RecentStarts(
                count: try row["n"].decode(Int.self), oldest: try row["oldest"].decode(Int64?.self).map(Timestamp.init(milliseconds:)))
            lockedUntil[index] = try row["locked_until"].decode(Int64?.self).map(Timestamp.init(milliseconds:))
        }

        let keyRefusals = try await counted.value
        var startedHere: [DestinationKey: [Timestamp]] = [:]
        var inserts = BatchJSON()
        var audits = BatchJSON()
        var results: [Result<StartResult, any Error>] = []
        for (index, job) in jobs.enumerated() {
            if let refusal = keyRefusals[index] {
                results.append(.failure(refusal))
                continue
            }
            let stored = recent[index] ?? StartDecider.RecentStarts()
            let loaded = StartDecider.Loaded(
                lockedUntil: lockedUntil[index],
                recentStarts: stored.adding(startedHere[key(job.verification), default: []], for: job))
            switch StartDecider.decide(job, loaded) {
            case .refuse(let refusal): results.append(.failure(refusal))
            case .replay(let first): results.append(.success(.replayed(first)))  // not reached: keyed starts are not batched
            case .create(let writes):
                let v = writes.verification
                startedHere[key(v), default: []].append(v.createdAt)
                inserts.append(Self.row(v, writes.messages))
                if let entry = job.audit { audits.append(InsertAuditEntries.row(entry)) }
                results.append(.success(.created(v)))
            }
        }
        if !inserts.isEmpty {
            _ = try await database.execute(InsertStarts(rows: inserts), on: connection)
        }
        if !audits.isEmpty {
            _ = try await database.execute(InsertAuditEntries(rows: audits), on: connection)
        }
        return results
    }

    /// A verification and its first messages (to its destination, companion and fallback) as one input row: its blind
    /// index and sealed fields, never the clear destination, reference or context.
    static func row(_ v: Verification, _ messages: [NewOutboxMessage]) -> [String: JSONValue] {
        let outbox: [JSONValue] = messages.map { message in
            let m = message.stored
            return .object([
                "id": .string(m.id), "channel": .string(m.channel.rawValue), "payload": .bytes(message.sealedPayload),
                "state": .string(m.state.rawValue), "attempts": .int(m.attempts), "created_at": .time(m.createdAt),
                "next_attempt_at": .time(m.nextAttemptAt), "expires_at": .time(m.expiresAt), "lease_until": .time(m.leaseUntil),
            ])
        }
        return [
            "id": .string(v.id), "tenant_id": .string(v.tenantID), "channel": .string(v.channel.rawValue),
            "destination": .string(v.destinationKey), "purpose": .text(v.purpose), "locale": .text(v.locale),
            "sealed_fields": .bytes(v.sealedFields), "code_length": .int(v.codeLength),
            "code_hash": .bytes(v.codeHash), "state": .string(v.state.rawValue), "attempts": .int(v.attempts),
            "max_attempts": .int(v.maxAttempts), "sends": .int(v.sends), "max_sends": .int(v.maxSends),
            "ttl_seconds": .int(v.ttlSeconds), "created_at": .time(v.createdAt), "expires_at": .time(v.expiresAt),
            "last_sent_at": .time(v.lastSentAt), "resend_available_at": .time(v.resendAvailableAt), "updated_at": .time(v.updatedAt),
            "messages": .array(outbox),
        ]
    }
}

/// Each start's count of starts to its destination since its window began, the oldest of them, and the
/// destination's lock (after a failure run), if any. `LATERAL` keeps it to one index range scan per start, whatever
/// plan a join would get on a large table. Run after `lockDestinations`, so it sees what the locks' previous holders
/// committed.
struct RecentStarts: BatchStatement {
    static let sql = """
        SELECT x.i, r.n, r.oldest,
            (SELECT d.locked_until FROM destinations d WHERE d.tenant_id = x.t AND d.destination = x.d) AS locked_until
        FROM jsonb_to_recordset($1) AS x(i int, t text, d text, since bigint)
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, min(v.created_at) AS oldest FROM verifications v
            WHERE v.tenant_id = x.t AND v.destination = x.d AND v.created_at > x.since) AS r
        """
    let rows: BatchJSON
}

/// The admitted verifications and their first messages (more than one for a verification with a companion or a
/// fallback destination), in one statement.
struct InsertStarts: BatchStatement {
    static let sql = """
        WITH x AS (
            SELECT * FROM jsonb_to_recordset($1) AS x(
                id text, tenant_id text, channel text, destination text, purpose text, locale text, sealed_fields text,
                code_length int, code_hash text, state text, attempts int, max_attempts int, sends int,
                max_sends int, ttl_seconds int, created_at bigint, expires_at bigint, last_sent_at bigint,
                resend_available_at bigint, updated_at bigint, messages jsonb)),
        verification AS (
            INSERT INTO verifications (id, tenant_id, channel, destination, purpose, locale, sealed_fields, code_length,
                code_hash, state, attempts, max_attempts, sends, max_sends, ttl_seconds, created_at, expires_at, last_sent_at,
                resend_available_at, updated_at)
            SELECT id, tenant_id, channel, destination, purpose, locale, decode(sealed_fields, 'base64'), code_length,
                decode(code_hash, 'base64'), state, attempts, max_attempts, sends, max_sends, ttl_seconds, created_at,
                expires_at, last_sent_at, resend_available_at, updated_at
            FROM x)
        INSERT INTO outbox (id, tenant_id, verification_id, channel, payload, state, attempts, created_at, next_attempt_at, expires_at, lease_until)
        SELECT m.id, x.tenant_id, x.id, m.channel, decode(m.payload, 'base64'), m.state, m.attempts, m.created_at, m.next_attempt_at,
            m.expires_at, m.lease_until
        FROM x CROSS JOIN LATERAL jsonb_to_recordset(x.messages) AS m(
            id text, channel text, payload text, state text, attempts int, created_at bigint, next_attempt_at bigint, expires_at bigint,
            lease_until bigint)
        """
    let rows: BatchJSON
}
