import Foundation
import GRDB
public import OTPGateCore

extension SQLiteStore {
    static let verificationColumns = """
        id, tenant_id, channel, destination, purpose, locale, reference, context, code_length, code_hash, state, attempts,
        max_attempts, sends, max_sends, ttl_seconds, created_at, expires_at, last_sent_at, resend_available_at, updated_at,
        sealed_fields
        """

    /// A row of `verificationColumns`, read by position: GRDB matches a column name case-insensitively on each lookup,
    /// which cost a check more than the row's SQL.
    static func verification(_ row: Row) throws -> Verification {
        guard let channel = Channel(rawValue: row[2]), let state = VerificationState(rawValue: row[10]) else {
            throw StoreError(.corrupt, "verification row with unknown channel or state")
        }
        // A row written before encryption at rest has no sealed fields: its clear destination is also its key.
        let sealed: Data? = row[21]
        let stored: String = row[3]
        return Verification(
            id: row[0], tenantID: row[1], channel: channel, destination: sealed == nil ? stored : "", purpose: row[4], locale: row[5],
            reference: row[6], context: row[7], codeLength: row[8], codeHash: row[9], state: state, attempts: row[11], maxAttempts: row[12],
            sends: row[13], maxSends: row[14], ttlSeconds: row[15], createdAt: Timestamp(milliseconds: row[16]),
            expiresAt: Timestamp(milliseconds: row[17]), lastSentAt: Timestamp(milliseconds: row[18]),
            resendAvailableAt: Timestamp(milliseconds: row[19]), updatedAt: Timestamp(milliseconds: row[20]), destinationKey: stored,
            sealedFields: sealed ?? Data())
    }

    static let fetchVerificationSQL = "SELECT \(verificationColumns) FROM verifications WHERE id = ? AND tenant_id = ?"

    static func fetchVerification(_ db: Database, id: String, tenantID: String) throws -> Verification? {
        let statement = try db.cachedStatement(sql: fetchVerificationSQL)
        return try RowsInPlace.first(statement, arguments: [id, tenantID], verification)
    }

    static let insertVerificationSQL =
        "INSERT INTO verifications (\(verificationColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

    static func insertVerification(_ db: Database, _ v: Verification) throws {
        try db.cachedStatement(sql: insertVerificationSQL)
            .execute(arguments: [
                // Only the blind index and the sealed fields are written: never the clear destination, reference or context.
                v.id, v.tenantID, v.channel.rawValue, v.destinationKey, v.purpose, v.locale, nil as String?, nil as String?, v.codeLength,
                v.codeHash, v.state.rawValue, v.attempts, v.maxAttempts, v.sends, v.maxSends, v.ttlSeconds, v.createdAt.milliseconds,
                v.expiresAt.milliseconds, v.lastSentAt.milliseconds, v.resendAvailableAt.milliseconds, v.updatedAt.milliseconds,
                v.sealedFields,
            ])
    }

    /// Writes the mutable columns of `v` (identity, destination and request fields never change).
    static func updateVerification(_ db: Database, _ v: Verification) throws {
        try db.cachedStatement(
            sql: """
                UPDATE verifications SET code_hash = ?, state = ?, attempts = ?, sends = ?, expires_at = ?, last_sent_at = ?,
                resend_available_at = ?, updated_at = ? WHERE id = ?
                """
        ).execute(arguments: [
            v.codeHash, v.state.rawValue, v.attempts, v.sends, v.expiresAt.milliseconds, v.lastSentAt.milliseconds,
            v.resendAvailableAt.milliseconds, v.updatedAt.milliseconds, v.id,
        ])
    }

    /// Counts one request against its key's limit, in the caller's savepoint (a refusal still commits the count).
    static func countKeyRequest(_ db: Database, _ request: KeyRequest?) throws {
        guard let request else { return }
        let count = try increment(db, scope: KeyRequestLimit.scope(keyID: request.keyID), window: KeyRequestLimit.window(request.now))
        if let refusal = KeyRequestLimit.refusal(count: count, for: request) { throw refusal }
    }

    static func fetchDestination(_ db: Database, tenantID: String, destinationKey: String) throws -> DestinationState? {
        let statement = try db.cachedStatement(
            sql: "SELECT failed_checks, first_failure_at, locked_until FROM destinations WHERE tenant_id = ? AND destination = ?")
        return try RowsInPlace.first(statement, arguments: [tenantID, destinationKey]) { row in
            DestinationState(
                tenantID: tenantID, destinationKey: destinationKey, failedChecks: row[0],
                firstFailureAt: (row[1] as Int64?).map(Timestamp.init(milliseconds:)),
                lockedUntil: (row[2] as Int64?).map(Timestamp.init(milliseconds:)))
        }
    }

    static func saveDestination(_ db: Database, _ d: DestinationState) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO destinations (tenant_id, destination, failed_checks, first_failure_at, locked_until) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, destination) DO UPDATE SET failed_checks = excluded.failed_checks,
                    first_failure_at = excluded.first_failure_at, locked_until = excluded.locked_until
                """
        ).execute(arguments: [d.tenantID, d.destinationKey, d.failedChecks, d.firstFailureAt?.milliseconds, d.lockedUntil?.milliseconds])
    }

    static func insertOutbox(_ db: Database, _ m: NewOutboxMessage) throws {
        let row = m.stored
        try db.cachedStatement(
            sql: """
                INSERT INTO outbox (id, tenant_id, verification_id, channel, payload, state, attempts, created_at, next_attempt_at, expires_at, lease_until)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            row.id, row.tenantID, row.verificationID, row.channel.rawValue, Data(m.sealedPayload), row.state.rawValue, row.attempts,
            row.createdAt.milliseconds, row.nextAttemptAt.milliseconds, row.expiresAt.milliseconds, row.leaseUntil?.milliseconds,
        ])
    }

    /// Erases undelivered codes of a verification whose code changed or that was canceled.
    static func supersedeOutbox(_ db: Database, verificationID: String, now: Timestamp) throws {
        try db.cachedStatement(
            sql:
                "UPDATE outbox SET state = 'superseded', payload = NULL, finished_at = ? WHERE id >= ? AND id < ? AND state IN ('pending', 'sending')"
        ).execute(arguments: [
            now.milliseconds, NewOutboxMessage.idRange(verificationID: verificationID).lower,
            NewOutboxMessage.idRange(verificationID: verificationID).upper,
        ])
    }

    /// A verification of the tenant and its destination's record, as check and resend decide on them.
    static func fetchWithDestination(_ db: Database, id: String, tenantID: String) throws -> (Verification?, DestinationState?) {
        guard let v = try fetchVerification(db, id: id, tenantID: tenantID) else { return (nil, nil) }
        return (v, try fetchDestination(db, tenantID: v.tenantID, destinationKey: v.destinationKey))
    }

    static func fetchIdempotency(_ db: Database, tenantID: String, key: String) throws -> IdempotencyRecord? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT request_hash, response, created_at FROM idempotency_keys WHERE tenant_id = ? AND idempotency_key = ?"),
                arguments: [tenantID, key])
        else { return nil }
        return IdempotencyRecord(
            tenantID: tenantID, key: key, requestHash: Array(row["request_hash"] as Data), response: try Verification(snapshotJSON: row["response"]),
            createdAt: Timestamp(milliseconds: row["created_at"]))
    }

    /// Stores the record under its key, replacing an expired one.
    static func saveIdempotency(_ db: Database, _ record: IdempotencyRecord, snapshot: String) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash, response = excluded.response,
                    created_at = excluded.created_at
                """
        ).execute(arguments: [record.tenantID, record.key, Data(record.requestHash), snapshot, record.createdAt.milliseconds])
    }

    // MARK: operations

    public func startVerification(_ command: StartCommand) async throws -> StartResult {
        // The first response, kept with an idempotency key so a retry gets it back verbatim; encoded here, off the
        // writer thread (it is the decider's `Writes.idempotency.response` by construction).
        let snapshot = command.idempotency.map { _ in command.verification.withoutSecrets.snapshotJSON }
        return try await decide { db in
            let v = command.verification
            // A bound start records its request's replay guard first: kept even when the start is refused.
            if let nonce = command.binding?.nonce, try !Self.claim(db, nonce, now: command.now) { throw SessionBindingError.replayed }
            try Self.countKeyRequest(db, command.keyRequest)
            var loaded = StartDecider.Loaded()
            if let claim = command.idempotency { loaded.idempotency = try Self.fetchIdempotency(db, tenantID: v.tenantID, key: claim.key) }
            // The destination's lock and its recent starts in one statement (read by position: a name lookup per
            // column cost more than the columns).
            let recent = try RowsInPlace.first(
                db.cachedStatement(
                    sql: """
                        SELECT count(*) AS n, min(created_at) AS oldest,
                            (SELECT locked_until FROM destinations WHERE tenant_id = ?1 AND destination = ?2) AS locked_until
                        FROM verifications WHERE tenant_id = ?1 AND destination = ?2 AND created_at > ?3
                        """),
                arguments: [v.tenantID, v.destinationKey, StartDecider.windowStart(of: command).milliseconds]
            ) { row in
                (
                    count: row[0] as Int, oldest: (row[1] as Int64?).map(Timestamp.init(milliseconds:)),
                    lockedUntil: (row[2] as Int64?).map(Timestamp.init(milliseconds:))
                )
            }
            loaded.lockedUntil = recent?.lockedUntil
            loaded.recentStarts = StartDecider.RecentStarts(count: recent?.count ?? 0, oldest: recent?.oldest)
            switch StartDecider.decide(command, loaded) {
            case .refuse(let refusal): throw refusal
            case .replay(let first): return .replayed(first)
            case .create(let writes):
                if let binding = command.binding { try Self.bind(db, binding) }
                try Self.insertVerification(db, writes.verification)
                for message in writes.messages { try Self.insertOutbox(db, message) }
                if let record = writes.idempotency, let snapshot { try Self.saveIdempotency(db, record, snapshot: snapshot) }
                if let entry = command.audit { try Self.insertAudit(db, entry) }
                return .created(writes.verification)
            }
        }
    }

    public func checkVerification(_ command: CheckCommand) async throws -> CheckOutcome {
        try await decide { db in
            try Self.countKeyRequest(db, command.keyRequest)
            let (v, destination) = try Self.fetchWithDestination(db, id: command.id, tenantID: command.tenantID)
            switch CheckDecider.decide(command, verification: v, destination: destination) {
            case .refuse(let refusal): throw refusal
            case .apply(let writes):
                try Self.updateVerification(db, writes.verification)
                let after = writes.verification
                if let type = WebhookEventType.after(check: after) {
                    try Self.recordEvent(
                        db, type, subject: after.id, tenantID: after.tenantID, verificationID: after.id, channel: after.channel,
                        purpose: after.purpose, now: command.now)
                }
                if let destination = writes.destination { try Self.saveDestination(db, destination) }
                if let actor = command.audit { try Self.insertAudit(db, .check(writes, by: actor, now: command.now)) }
                return writes.outcome
            }
        }
    }

    public func resendVerification(_ command: ResendCommand) async throws -> Verification {
        try await decide { db in
            try Self.countKeyRequest(db, command.keyRequest)
            let (v, destination) = try Self.fetchWithDestination(db, id: command.id, tenantID: command.tenantID)
            switch ResendDecider.decide(command, verification: v, destination: destination) {
            case .refuse(let refusal): throw refusal
            case .apply(let writes):
                try Self.updateVerification(db, writes.verification)
                try Self.supersedeOutbox(db, verificationID: writes.supersedesMessagesOf, now: command.now)
                for message in writes.messages { try Self.insertOutbox(db, message) }
                return writes.verification
            }
        }
    }

    public func cancelVerification(id: String, tenantID: String, now: Timestamp, keyRequest: KeyRequest?) async throws -> Verification {
        try await decide { db in
            try Self.countKeyRequest(db, keyRequest)
            switch CancelDecider.decide(tenantID: tenantID, now: now, verification: try Self.fetchVerification(db, id: id, tenantID: tenantID)) {
            case .refuse(let refusal): throw refusal
            case .apply(let writes):
                try Self.updateVerification(db, writes.verification)
                try Self.supersedeOutbox(db, verificationID: writes.supersedesMessagesOf, now: now)
                return writes.verification
            }
        }
    }

    public func verification(id: String, tenantID: String, keyRequest: KeyRequest?) async throws -> Verification {
        if keyRequest != nil {
            return try await decide { db in
                try Self.countKeyRequest(db, keyRequest)
                guard let v = try Self.fetchVerification(db, id: id, tenantID: tenantID) else { throw VerificationError.notFound }
                return v
            }
        }
        guard let v = try await findVerification(id: id, tenantID: tenantID) else { throw VerificationError.notFound }
        return v
    }

    public func countKeyRequest(_ request: KeyRequest) async throws {
        try await decide { db in try Self.countKeyRequest(db, request) }
    }

    public func incrementCounter(scope: String, window: Int64) async throws -> Int {
        try await write { db in try Self.increment(db, scope: scope, window: window) }
    }

    /// One atomic upsert of a fixed-window counter: a row from an earlier window starts over.
    static func increment(_ db: Database, scope: String, window: Int64) throws -> Int {
        try Int.fetchOne(
            db.cachedStatement(
                sql: """
                    INSERT INTO request_counters (scope, window_start, count) VALUES (?, ?, 1)
                    ON CONFLICT (scope) DO UPDATE SET
                        count = CASE WHEN request_counters.window_start = excluded.window_start THEN request_counters.count + 1 ELSE 1 END,
                        window_start = excluded.window_start
                    RETURNING count
                    """),
            arguments: [scope, window]) ?? 0
    }

    // MARK: queries

    public func findVerification(id: String, tenantID: String) async throws -> Verification? {
        try await read { db in try Self.fetchVerification(db, id: id, tenantID: tenantID) }
    }

    public func destinationState(tenantID: String, destinationKey: String) async throws -> DestinationState? {
        try await read { db in try Self.fetchDestination(db, tenantID: tenantID, destinationKey: destinationKey) }
    }

    // MARK: token ledger

    public func consume(_ token: ConsumedToken) async throws -> Bool {
        try await write { db in
            try db.cachedStatement(
                sql: "INSERT INTO consumed_tokens (jti, tenant_id, expires_at, consumed_at) VALUES (?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING"
            ).execute(arguments: [token.jti, token.tenantID, token.expiresAt.milliseconds, token.consumedAt.milliseconds])
            guard db.changesCount == 1 else { return false }
            if let actor = token.audit { try Self.insertAudit(db, .consumed(token, by: actor)) }
            return true
        }
    }

    public func isConsumed(jti: String) async throws -> Bool {
        try await read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM consumed_tokens WHERE jti = ?"), arguments: [jti]) != nil }
    }
}
