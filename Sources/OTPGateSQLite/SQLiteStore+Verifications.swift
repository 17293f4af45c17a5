import Foundation
import GRDB
public import OTPGateCore

extension SQLiteStore {
    static let verificationColumns = """
        id, tenant_id, channel, destination, purpose, locale, reference, context, code_length, code_hash, state, attempts,
        max_attempts, sends, max_sends, ttl_seconds, created_at, expires_at, last_sent_at, resend_available_at, updated_at
        """

    static func verification(_ row: Row) throws -> Verification {
        guard let channel = Channel(rawValue: row["channel"]), let state = VerificationState(rawValue: row["state"]) else {
            throw StoreError(.corrupt, "verification row with unknown channel or state")
        }
        return Verification(
            id: row["id"], tenantID: row["tenant_id"], channel: channel, destination: row["destination"], purpose: row["purpose"],
            locale: row["locale"], reference: row["reference"], context: row["context"], codeLength: row["code_length"],
            codeHash: row["code_hash"], state: state, attempts: row["attempts"], maxAttempts: row["max_attempts"], sends: row["sends"],
            maxSends: row["max_sends"], ttlSeconds: row["ttl_seconds"], createdAt: Timestamp(milliseconds: row["created_at"]),
            expiresAt: Timestamp(milliseconds: row["expires_at"]), lastSentAt: Timestamp(milliseconds: row["last_sent_at"]),
            resendAvailableAt: Timestamp(milliseconds: row["resend_available_at"]), updatedAt: Timestamp(milliseconds: row["updated_at"]))
    }

    static func fetchVerification(_ db: Database, id: String, tenantID: String) throws -> Verification? {
        let statement = try db.cachedStatement(sql: "SELECT \(verificationColumns) FROM verifications WHERE id = ? AND tenant_id = ?")
        return try Row.fetchOne(statement, arguments: [id, tenantID]).map(verification)
    }

    static func insertVerification(_ db: Database, _ v: Verification) throws {
        try db.cachedStatement(sql: "INSERT INTO verifications (\(verificationColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: [
                v.id, v.tenantID, v.channel.rawValue, v.destination, v.purpose, v.locale, v.reference, v.context, v.codeLength,
                v.codeHash, v.state.rawValue, v.attempts, v.maxAttempts, v.sends, v.maxSends, v.ttlSeconds, v.createdAt.milliseconds,
                v.expiresAt.milliseconds, v.lastSentAt.milliseconds, v.resendAvailableAt.milliseconds, v.updatedAt.milliseconds,
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

    static func admit(_ db: Database, _ admission: RequestAdmission?) throws {
        guard let admission else { return }
        let count = try Int.fetchOne(
            db.cachedStatement(
                sql: """
                    INSERT INTO request_counters (scope, window_start, count) VALUES (?, ?, 1)
                    ON CONFLICT (scope) DO UPDATE SET
                        count = CASE WHEN request_counters.window_start = excluded.window_start THEN request_counters.count + 1 ELSE 1 END,
                        window_start = excluded.window_start
                    RETURNING count
                    """),
            arguments: ["key:" + admission.keyID, VerificationRules.admissionWindow(admission.now)]) ?? 0
        if let refusal = VerificationRules.admissionRefusal(countInWindow: count, limit: admission.limitPerSecond, now: admission.now) {
            throw refusal
        }
    }

    static func fetchDestination(_ db: Database, tenantID: String, destination: String) throws -> DestinationState? {
        let statement = try db.cachedStatement(
            sql: "SELECT failed_checks, first_failure_at, locked_until FROM destinations WHERE tenant_id = ? AND destination = ?")
        return try Row.fetchOne(statement, arguments: [tenantID, destination]).map { row in
            DestinationState(
                tenantID: tenantID, destination: destination, failedChecks: row["failed_checks"],
                firstFailureAt: (row["first_failure_at"] as Int64?).map(Timestamp.init(milliseconds:)),
                lockedUntil: (row["locked_until"] as Int64?).map(Timestamp.init(milliseconds:)))
        }
    }

    static func saveDestination(_ db: Database, _ d: DestinationState) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO destinations (tenant_id, destination, failed_checks, first_failure_at, locked_until) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, destination) DO UPDATE SET failed_checks = excluded.failed_checks,
                    first_failure_at = excluded.first_failure_at, locked_until = excluded.locked_until
                """
        ).execute(arguments: [d.tenantID, d.destination, d.failedChecks, d.firstFailureAt?.milliseconds, d.lockedUntil?.milliseconds])
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
            sql: "UPDATE outbox SET state = 'superseded', payload = NULL, finished_at = ? WHERE id >= ? AND id < ? AND state IN ('pending', 'sending')"
        ).execute(arguments: [now.milliseconds, NewOutboxMessage.idRange(verificationID: verificationID).lower, NewOutboxMessage.idRange(verificationID: verificationID).upper])
    }

    // MARK: operations

    public func startVerification(_ command: StartCommand) async throws -> StartResult {
        // The first response, kept with an idempotency key so a retry gets it back verbatim.
        let snapshot = try command.idempotency.map { _ in String(decoding: try JSONEncoder().encode(command.verification.withoutSecrets), as: UTF8.self) }
        return try await decide { db in
            let v = command.verification
            let now = v.createdAt
            try Self.admit(db, command.admission)
            if let claim = command.idempotency {
                if let row = try Row.fetchOne(
                    db, sql: "SELECT request_hash, response, created_at FROM idempotency_keys WHERE tenant_id = ? AND idempotency_key = ?",
                    arguments: [v.tenantID, claim.key])
                {
                    if Timestamp(milliseconds: row["created_at"]) > now - claim.window {
                        guard constantTimeEquals(row["request_hash"] as Data, claim.requestHash) else { throw VerificationError.idempotencyKeyReused }
                        let first = try JSONDecoder().decode(Verification.self, from: Data((row["response"] as String).utf8))
                        return .replayed(first)
                    }
                    try db.execute(sql: "DELETE FROM idempotency_keys WHERE tenant_id = ? AND idempotency_key = ?", arguments: [v.tenantID, claim.key])
                }
            }
            // The destination's lock and its recent starts in one statement.
            let window = now - .seconds(command.policy.startWindowSeconds)
            let recent = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT count(*) AS n, min(created_at) AS oldest,
                            (SELECT locked_until FROM destinations WHERE tenant_id = ?1 AND destination = ?2) AS locked_until
                        FROM verifications WHERE tenant_id = ?1 AND destination = ?2 AND created_at > ?3
                        """),
                arguments: [v.tenantID, v.destination, window.milliseconds])
            let lock = DestinationState(
                tenantID: v.tenantID, destination: v.destination, lockedUntil: (recent?["locked_until"] as Int64?).map(Timestamp.init(milliseconds:)))
            if let refusal = VerificationRules.lockRefusal(lock, now: now) { throw refusal }
            let count: Int = recent?["n"] ?? 0
            let oldest = (recent?["oldest"] as Int64?).map(Timestamp.init(milliseconds:))
            if let refusal = VerificationRules.startLimitRefusal(recentStarts: count, oldest: oldest, now: now, policy: command.policy) {
                throw refusal
            }
            try Self.insertVerification(db, v)
            try Self.insertOutbox(db, command.message)
            if let claim = command.idempotency {
                try db.execute(
                    sql: "INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [v.tenantID, claim.key, Data(claim.requestHash), snapshot ?? "", now.milliseconds])
            }
            return .created(v)
        }
    }

    public func checkVerification(_ command: CheckCommand) async throws -> CheckOutcome {
        try await decide { db in
            try Self.admit(db, command.admission)
            guard let v = try Self.fetchVerification(db, id: command.id, tenantID: command.tenantID) else { throw VerificationError.notFound }
            if let refusal = VerificationRules.checkRefusal(v, now: command.now) { throw refusal }
            let destination = try Self.fetchDestination(db, tenantID: v.tenantID, destination: v.destination)
                ?? DestinationState(tenantID: v.tenantID, destination: v.destination)
            if let refusal = VerificationRules.lockRefusal(destination, now: command.now) { throw refusal }
            if constantTimeEquals(v.codeHash, command.candidateHash) {
                let approved = VerificationRules.approved(v, now: command.now)
                try Self.updateVerification(db, approved)
                if destination.failedChecks > 0 { try Self.saveDestination(db, VerificationRules.afterApproval(destination)) }
                return .approved(approved)
            }
            let failed = VerificationRules.failedAttempt(v, now: command.now)
            try Self.updateVerification(db, failed)
            try Self.saveDestination(db, VerificationRules.afterFailedCheck(destination, now: command.now, policy: command.policy))
            return .incorrect(failed)
        }
    }

    public func resendVerification(_ command: ResendCommand) async throws -> Verification {
        try await decide { db in
            try Self.admit(db, command.admission)
            guard let v = try Self.fetchVerification(db, id: command.id, tenantID: command.tenantID) else { throw VerificationError.notFound }
            if let channel = command.channel, channel != v.channel { throw VerificationError.channelMismatch }
            if let refusal = VerificationRules.resendRefusal(v, now: command.now) { throw refusal }
            if let refusal = VerificationRules.lockRefusal(try Self.fetchDestination(db, tenantID: v.tenantID, destination: v.destination), now: command.now) {
                throw refusal
            }
            let resent = VerificationRules.resent(v, codeHash: command.codeHash, now: command.now, policy: command.policy)
            try Self.updateVerification(db, resent)
            try Self.supersedeOutbox(db, verificationID: v.id, now: command.now)
            var message = command.message
            message.id = NewOutboxMessage.id(verificationID: v.id, send: resent.sends)
            message.expiresAt = resent.expiresAt
            try Self.insertOutbox(db, message)
            return resent
        }
    }

    public func cancelVerification(id: String, tenantID: String, now: Timestamp, admission: RequestAdmission?) async throws -> Verification {
        try await decide { db in
            try Self.admit(db, admission)
            guard let v = try Self.fetchVerification(db, id: id, tenantID: tenantID) else { throw VerificationError.notFound }
            if let refusal = VerificationRules.cancelRefusal(v, now: now) { throw refusal }
            let canceled = VerificationRules.canceled(v, now: now)
            try Self.updateVerification(db, canceled)
            try Self.supersedeOutbox(db, verificationID: id, now: now)
            return canceled
        }
    }

    public func verification(id: String, tenantID: String, admission: RequestAdmission?) async throws -> Verification {
        if admission != nil {
            return try await decide { db in
                try Self.admit(db, admission)
                guard let v = try Self.fetchVerification(db, id: id, tenantID: tenantID) else { throw VerificationError.notFound }
                return v
            }
        }
        guard let v = try await read({ db in try Self.fetchVerification(db, id: id, tenantID: tenantID) }) else { throw VerificationError.notFound }
        return v
    }

    public func admit(_ admission: RequestAdmission) async throws {
        try await decide { db in try Self.admit(db, admission) }
    }

    public func destinationState(tenantID: String, destination: String) async throws -> DestinationState? {
        try await read { db in try Self.fetchDestination(db, tenantID: tenantID, destination: destination) }
    }

    // MARK: tokens

    public func consumeToken(jti: String, tenantID: String, expiresAt: Timestamp, now: Timestamp) async throws -> Bool {
        try await write { db in
            try db.cachedStatement(
                sql: "INSERT INTO consumed_tokens (jti, tenant_id, expires_at, consumed_at) VALUES (?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING"
            ).execute(arguments: [jti, tenantID, expiresAt.milliseconds, now.milliseconds])
            return db.changesCount == 1
        }
    }

    public func isTokenConsumed(jti: String) async throws -> Bool {
        try await read { db in try Int.fetchOne(db, sql: "SELECT 1 FROM consumed_tokens WHERE jti = ?", arguments: [jti]) != nil }
    }
}
