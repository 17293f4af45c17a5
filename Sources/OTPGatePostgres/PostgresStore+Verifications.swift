import Foundation
import Logging
public import OTPGateCore
import PostgresNIO

extension PostgresStore {
    static func verification(_ row: PostgresRandomAccessRow) throws -> Verification {
        guard let channel = Channel(rawValue: try row["channel"].decode(String.self)),
              let state = VerificationState(rawValue: try row["state"].decode(String.self))
        else { throw StoreError(.corrupt, "verification row with unknown channel or state") }
        func time(_ column: String) throws -> Timestamp { Timestamp(milliseconds: try row[column].decode(Int64.self)) }
        return Verification(
            id: try row["id"].decode(String.self), tenantID: try row["tenant_id"].decode(String.self), channel: channel,
            destination: try row["destination"].decode(String.self), purpose: try row["purpose"].decode(String?.self),
            locale: try row["locale"].decode(String?.self), reference: try row["reference"].decode(String?.self),
            context: try row["context"].decode(String?.self), codeLength: try row["code_length"].decode(Int.self),
            codeHash: Data(Array(buffer: try row["code_hash"].decode(ByteBuffer.self))), state: state, attempts: try row["attempts"].decode(Int.self),
            maxAttempts: try row["max_attempts"].decode(Int.self), sends: try row["sends"].decode(Int.self),
            maxSends: try row["max_sends"].decode(Int.self), ttlSeconds: try row["ttl_seconds"].decode(Int.self), createdAt: try time("created_at"),
            expiresAt: try time("expires_at"), lastSentAt: try time("last_sent_at"), resendAvailableAt: try time("resend_available_at"),
            updatedAt: try time("updated_at"))
    }

    /// The verification, locked until the transaction ends.
    func lockVerification(id: String, tenantID: String, on connection: PostgresConnection) async throws -> Verification {
        guard let row = try await rows("SELECT * FROM verifications WHERE id = \(id) AND tenant_id = \(tenantID) FOR UPDATE", on: connection).first
        else { throw VerificationError.notFound }
        return try Self.verification(row)
    }

    /// The destination's record, created if missing and locked until the transaction ends: every start, check and
    /// resend of one destination runs one after another, across all instances.
    func lockDestination(tenantID: String, destination: String, on connection: PostgresConnection) async throws -> DestinationState {
        let key = DestinationKey(tenantID: tenantID, destination: destination)
        return try await database.lockDestinations([key], on: connection)[key] ?? DestinationState(tenantID: tenantID, destination: destination)
    }

    func saveDestination(_ d: DestinationState, on connection: PostgresConnection) async throws {
        try await database.saveDestinations([d], on: connection)
    }

    func updateVerification(_ v: Verification, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            UPDATE verifications SET code_hash = \(ByteBuffer(bytes: Array(v.codeHash))), state = \(v.state.rawValue), attempts = \(v.attempts),
                sends = \(v.sends), expires_at = \(v.expiresAt.milliseconds), last_sent_at = \(v.lastSentAt.milliseconds),
                resend_available_at = \(v.resendAvailableAt.milliseconds), updated_at = \(v.updatedAt.milliseconds)
            WHERE id = \(v.id)
            """, logger: logger)
    }

    func insertOutbox(_ m: NewOutboxMessage, on connection: PostgresConnection) async throws {
        let row = m.stored
        try await connection.query(
            """
            INSERT INTO outbox (id, tenant_id, verification_id, channel, payload, state, attempts, created_at, next_attempt_at, expires_at, lease_until)
            VALUES (\(row.id), \(row.tenantID), \(row.verificationID), \(row.channel.rawValue), \(ByteBuffer(bytes: m.sealedPayload)),
                \(row.state.rawValue), \(row.attempts), \(row.createdAt.milliseconds), \(row.nextAttemptAt.milliseconds),
                \(row.expiresAt.milliseconds), \(row.leaseUntil?.milliseconds))
            """, logger: logger)
    }

    func supersedeOutbox(verificationID: String, now: Timestamp, on connection: PostgresConnection) async throws {
        let range = NewOutboxMessage.idRange(verificationID: verificationID)
        try await connection.query(
            """
            UPDATE outbox SET state = 'superseded', payload = NULL, finished_at = \(now.milliseconds)
            WHERE id >= \(range.lower) AND id < \(range.upper) AND state IN ('pending', 'sending')
            """, logger: logger)
    }

    /// Counts one request against the key's allowance in a statement of its own: a refused request still counts,
    /// and the counter row is never held locked while a request's transaction runs.
    public func admit(_ admission: RequestAdmission) async throws {
        let count = try await rows(
            """
            INSERT INTO request_counters (scope, window_start, count) VALUES (\("key:" + admission.keyID), \(VerificationRules.admissionWindow(admission.now)), 1)
            ON CONFLICT (scope) DO UPDATE SET
                count = CASE WHEN request_counters.window_start = excluded.window_start THEN request_counters.count + 1 ELSE 1 END,
                window_start = excluded.window_start
            RETURNING count
            """)[0]["count"].decode(Int.self)
        if let refusal = VerificationRules.admissionRefusal(countInWindow: count, limit: admission.limitPerSecond, now: admission.now) {
            throw refusal
        }
    }

    // MARK: operations

    /// Starts without an idempotency key run batched (`StartBatch`); with one, in a transaction of their own that
    /// claims the key first.
    public func startVerification(_ command: StartCommand) async throws -> StartResult {
        guard command.idempotency != nil else { return try await starts.submit(command) }
        if let admission = command.admission { try await admit(admission) }
        let v = command.verification
        let now = v.createdAt
        let snapshot = try command.idempotency.map { _ in String(decoding: try JSONEncoder().encode(v.withoutSecrets), as: UTF8.self) }
        return try await transaction { connection in
            if let claim = command.idempotency, let snapshot {
                // Claim the key first: a concurrent request with the same key waits here for this one to finish.
                let claimed = try await self.rows(
                    """
                    INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, response, created_at)
                    VALUES (\(v.tenantID), \(claim.key), \(ByteBuffer(bytes: claim.requestHash)), \(snapshot), \(now.milliseconds))
                    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING created_at
                    """, on: connection)
                if claimed.isEmpty {
                    let row = try await self.rows(
                        "SELECT request_hash, response, created_at FROM idempotency_keys WHERE tenant_id = \(v.tenantID) AND idempotency_key = \(claim.key) FOR UPDATE",
                        on: connection)[0]
                    if Timestamp(milliseconds: try row["created_at"].decode(Int64.self)) > now - claim.window {
                        guard constantTimeEquals(Array(buffer: try row["request_hash"].decode(ByteBuffer.self)), claim.requestHash) else {
                            throw VerificationError.idempotencyKeyReused
                        }
                        let first = try JSONDecoder().decode(Verification.self, from: Data(try row["response"].decode(String.self).utf8))
                        return .replayed(first)
                    }
                    try await connection.query(
                        """
                        UPDATE idempotency_keys SET request_hash = \(ByteBuffer(bytes: claim.requestHash)), response = \(snapshot), created_at = \(now.milliseconds)
                        WHERE tenant_id = \(v.tenantID) AND idempotency_key = \(claim.key)
                        """, logger: self.logger)
                }
            }
            let destination = try await self.lockDestination(tenantID: v.tenantID, destination: v.destination, on: connection)
            if let refusal = VerificationRules.lockRefusal(destination, now: now) { throw refusal }
            let window = (now - .seconds(command.policy.startWindowSeconds)).milliseconds
            let recent = try await self.rows(
                """
                SELECT count(*) AS n, min(created_at) AS oldest FROM verifications
                WHERE tenant_id = \(v.tenantID) AND destination = \(v.destination) AND created_at > \(window)
                """, on: connection)[0]
            let count = try recent["n"].decode(Int.self)
            let oldest = try recent["oldest"].decode(Int64?.self).map(Timestamp.init(milliseconds:))
            if let refusal = VerificationRules.startLimitRefusal(recentStarts: count, oldest: oldest, now: now, policy: command.policy) {
                throw refusal
            }
            try await connection.query(
                """
                INSERT INTO verifications (id, tenant_id, channel, destination, purpose, locale, reference, context, code_length, code_hash,
                    state, attempts, max_attempts, sends, max_sends, ttl_seconds, created_at, expires_at, last_sent_at, resend_available_at, updated_at)
                VALUES (\(v.id), \(v.tenantID), \(v.channel.rawValue), \(v.destination), \(v.purpose), \(v.locale), \(v.reference), \(v.context),
                    \(v.codeLength), \(ByteBuffer(bytes: Array(v.codeHash))), \(v.state.rawValue), \(v.attempts), \(v.maxAttempts), \(v.sends), \(v.maxSends),
                    \(v.ttlSeconds), \(v.createdAt.milliseconds), \(v.expiresAt.milliseconds), \(v.lastSentAt.milliseconds),
                    \(v.resendAvailableAt.milliseconds), \(v.updatedAt.milliseconds))
                """, logger: self.logger)
            try await self.insertOutbox(command.message, on: connection)
            return .created(v)
        }
    }

    /// Checks run batched (`CheckBatch`).
    public func checkVerification(_ command: CheckCommand) async throws -> CheckOutcome {
        try await checks.submit(command)
    }

    public func resendVerification(_ command: ResendCommand) async throws -> Verification {
        if let admission = command.admission { try await admit(admission) }
        return try await transaction { connection in
            let v = try await self.lockVerification(id: command.id, tenantID: command.tenantID, on: connection)
            if let channel = command.channel, channel != v.channel { throw VerificationError.channelMismatch }
            if let refusal = VerificationRules.resendRefusal(v, now: command.now) { throw refusal }
            let destination = try await self.lockDestination(tenantID: v.tenantID, destination: v.destination, on: connection)
            if let refusal = VerificationRules.lockRefusal(destination, now: command.now) { throw refusal }
            let resent = VerificationRules.resent(v, codeHash: command.codeHash, now: command.now, policy: command.policy)
            try await self.updateVerification(resent, on: connection)
            try await self.supersedeOutbox(verificationID: v.id, now: command.now, on: connection)
            var message = command.message
            message.id = NewOutboxMessage.id(verificationID: v.id, send: resent.sends)
            message.expiresAt = resent.expiresAt
            try await self.insertOutbox(message, on: connection)
            return resent
        }
    }

    public func cancelVerification(id: String, tenantID: String, now: Timestamp, admission: RequestAdmission?) async throws -> Verification {
        if let admission { try await admit(admission) }
        return try await transaction { connection in
            let v = try await self.lockVerification(id: id, tenantID: tenantID, on: connection)
            if let refusal = VerificationRules.cancelRefusal(v, now: now) { throw refusal }
            let canceled = VerificationRules.canceled(v, now: now)
            try await self.updateVerification(canceled, on: connection)
            try await self.supersedeOutbox(verificationID: id, now: now, on: connection)
            return canceled
        }
    }

    public func verification(id: String, tenantID: String, admission: RequestAdmission?) async throws -> Verification {
        if let admission { try await admit(admission) }
        guard let row = try await rows("SELECT * FROM verifications WHERE id = \(id) AND tenant_id = \(tenantID)").first else {
            throw VerificationError.notFound
        }
        return try Self.verification(row)
    }

    public func destinationState(tenantID: String, destination: String) async throws -> DestinationState? {
        try await rows("SELECT * FROM destinations WHERE tenant_id = \(tenantID) AND destination = \(destination)").first
            .map(PostgresDatabase.destinationState)
    }

    // MARK: tokens

    public func consumeToken(jti: String, tenantID: String, expiresAt: Timestamp, now: Timestamp) async throws -> Bool {
        try await !rows(
            """
            INSERT INTO consumed_tokens (jti, tenant_id, expires_at, consumed_at) VALUES (\(jti), \(tenantID), \(expiresAt.milliseconds), \(now.milliseconds))
            ON CONFLICT (jti) DO NOTHING RETURNING jti
            """
        ).isEmpty
    }

    public func isTokenConsumed(jti: String) async throws -> Bool {
        try await !rows("SELECT 1 AS used FROM consumed_tokens WHERE jti = \(jti)").isEmpty
    }
}
