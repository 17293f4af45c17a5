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
        // A row written before encryption at rest has no sealed fields: its clear destination is also its key.
        let sealed = try row["sealed_fields"].decode(ByteBuffer?.self).map { Data(Array(buffer: $0)) }
        let stored = try row["destination"].decode(String.self)
        return Verification(
            id: try row["id"].decode(String.self), tenantID: try row["tenant_id"].decode(String.self), channel: channel,
            destination: sealed == nil ? stored : "", purpose: try row["purpose"].decode(String?.self),
            locale: try row["locale"].decode(String?.self), reference: try row["reference"].decode(String?.self),
            context: try row["context"].decode(String?.self), codeLength: try row["code_length"].decode(Int.self),
            codeHash: Data(Array(buffer: try row["code_hash"].decode(ByteBuffer.self))), state: state, attempts: try row["attempts"].decode(Int.self),
            maxAttempts: try row["max_attempts"].decode(Int.self), sends: try row["sends"].decode(Int.self),
            maxSends: try row["max_sends"].decode(Int.self), ttlSeconds: try row["ttl_seconds"].decode(Int.self), createdAt: try time("created_at"),
            expiresAt: try time("expires_at"), lastSentAt: try time("last_sent_at"), resendAvailableAt: try time("resend_available_at"),
            updatedAt: try time("updated_at"), destinationKey: stored, sealedFields: sealed ?? Data())
    }

    /// The verification with this id (of any tenant: the decider checks the tenant), locked until the transaction ends.
    func lockVerification(id: String, on connection: PostgresConnection) async throws -> Verification? {
        try await rows("SELECT * FROM verifications WHERE id = \(id) FOR UPDATE", on: connection).first.map(Self.verification)
    }

    /// The destination's record (a fresh one when it has none), read after its lock is taken; the lock holds until the
    /// transaction ends: every start, check and resend of one destination runs one after another, across all instances.
    func lockDestination(of v: Verification, on connection: PostgresConnection) async throws -> DestinationState {
        let key = DestinationKey(tenantID: v.tenantID, destinationKey: v.destinationKey)
        return try await database.lockAndReadDestinations([key], on: connection)[key]
            ?? DestinationState(tenantID: v.tenantID, destinationKey: v.destinationKey)
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

    /// Counts one request against its key's limit in a statement of its own: a refused request still counts,
    /// and the counter row is never held locked while a request's transaction runs.
    public func countKeyRequest(_ request: KeyRequest) async throws {
        let count = try await incrementCounter(scope: KeyRequestLimit.scope(keyID: request.keyID), window: KeyRequestLimit.window(request.now))
        if let refusal = KeyRequestLimit.refusal(count: count, for: request) { throw refusal }
    }

    /// One atomic upsert of a fixed-window counter, in a statement of its own: a row from an earlier window starts over.
    public func incrementCounter(scope: String, window: Int64) async throws -> Int {
        try await rows(
            """
            INSERT INTO request_counters (scope, window_start, count) VALUES (\(scope), \(window), 1)
            ON CONFLICT (scope) DO UPDATE SET
                count = CASE WHEN request_counters.window_start = excluded.window_start THEN request_counters.count + 1 ELSE 1 END,
                window_start = excluded.window_start
            RETURNING count
            """)[0]["count"].decode(Int.self)
    }

    // MARK: operations

    /// Starts without an idempotency key or session binding run batched (`StartBatch`); with one, in a transaction of
    /// their own that writes the vendor session and locks the key first.
    public func startVerification(_ command: StartCommand) async throws -> StartResult {
        guard command.idempotency != nil || command.binding != nil else { return try await starts.submit(command) }
        if let request = command.keyRequest { try await countKeyRequest(request) }
        let v = command.verification
        let snapshot = v.withoutSecrets.snapshotJSON
        let outcome: Result<StartResult, VerificationError> = try await transaction { connection in
            // A bound start records its request's replay guard first: kept even when the start is refused.
            if let nonce = command.binding?.nonce, try await !self.claim(nonce, now: command.now, on: connection) {
                throw SessionBindingError.replayed
            }
            var loaded = StartDecider.Loaded()
            if let claim = command.idempotency {
                // A concurrent request with the same key waits here for this one to finish.
                _ = try await self.rows(
                    "SELECT pg_advisory_xact_lock(hashtextextended(\(v.tenantID + "\u{1F}" + claim.key), 0)) AS locked", on: connection)
                loaded.idempotency = try await self.rows(
                    """
                    SELECT request_hash, response, created_at FROM idempotency_keys WHERE tenant_id = \(v.tenantID) AND idempotency_key = \(claim.key)
                    """, on: connection
                ).first.map { row in
                    IdempotencyRecord(
                        tenantID: v.tenantID, key: claim.key, requestHash: Array(buffer: try row["request_hash"].decode(ByteBuffer.self)),
                        response: try Verification(snapshotJSON: try row["response"].decode(String.self)),
                        createdAt: Timestamp(milliseconds: try row["created_at"].decode(Int64.self)))
                }
            }
            let destination = try await self.lockDestination(of: v, on: connection)
            loaded.lockedUntil = destination.lockedUntil
            let recent = try await self.rows(
                """
                SELECT count(*) AS n, min(created_at) AS oldest FROM verifications
                WHERE tenant_id = \(v.tenantID) AND destination = \(v.destinationKey) AND created_at > \(StartDecider.windowStart(of: command).milliseconds)
                """, on: connection)[0]
            loaded.recentStarts = StartDecider.RecentStarts(
                count: try recent["n"].decode(Int.self), oldest: try recent["oldest"].decode(Int64?.self).map(Timestamp.init(milliseconds:)))
            switch StartDecider.decide(command, loaded) {
            case .refuse(let refusal): return .failure(refusal)
            case .replay(let first): return .success(.replayed(first))
            case .create(let writes):
                // The vendor session that names it: a lost restart rolls everything back.
                if let binding = command.binding { try await self.bind(binding, on: connection) }
                var insert = BatchJSON()
                insert.append(StartBatch.row(writes.verification, writes.messages))
                _ = try await self.database.execute(InsertStarts(rows: insert), on: connection)
                if let entry = command.audit { _ = try await self.database.execute(InsertAuditEntries([entry]), on: connection) }
                if let record = writes.idempotency {
                    try await connection.query(
                        """
                        INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, response, created_at)
                        VALUES (\(record.tenantID), \(record.key), \(ByteBuffer(bytes: record.requestHash)), \(snapshot), \(record.createdAt.milliseconds))
                        ON CONFLICT (tenant_id, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash,
                            response = excluded.response, created_at = excluded.created_at
                        """, logger: self.logger)
                }
                return .success(.created(writes.verification))
            }
        }
        return try outcome.get()
    }

    /// Checks run batched (`CheckBatch`).
    public func checkVerification(_ command: CheckCommand) async throws -> CheckOutcome {
        try await checks.submit(command)
    }

    public func resendVerification(_ command: ResendCommand) async throws -> Verification {
        if let request = command.keyRequest { try await countKeyRequest(request) }
        return try await transaction { connection in
            let v = try await self.lockVerification(id: command.id, on: connection)
            let destination = try await v.asyncMap { try await self.lockDestination(of: $0, on: connection) }
            switch ResendDecider.decide(command, verification: v, destination: destination) {
            case .refuse(let refusal): throw refusal
            case .apply(let writes):
                try await self.updateVerification(writes.verification, on: connection)
                try await self.supersedeOutbox(verificationID: writes.supersedesMessagesOf, now: command.now, on: connection)
                for message in writes.messages { try await self.insertOutbox(message, on: connection) }
                return writes.verification
            }
        }
    }

    public func cancelVerification(id: String, tenantID: String, now: Timestamp, keyRequest: KeyRequest?) async throws -> Verification {
        if let keyRequest { try await countKeyRequest(keyRequest) }
        return try await transaction { connection in
            switch CancelDecider.decide(tenantID: tenantID, now: now, verification: try await self.lockVerification(id: id, on: connection)) {
            case .refuse(let refusal): throw refusal
            case .apply(let writes):
                try await self.updateVerification(writes.verification, on: connection)
                try await self.supersedeOutbox(verificationID: writes.supersedesMessagesOf, now: now, on: connection)
                return writes.verification
            }
        }
    }

    public func verification(id: String, tenantID: String, keyRequest: KeyRequest?) async throws -> Verification {
        if let keyRequest { try await countKeyRequest(keyRequest) }
        guard let v = try await findVerification(id: id, tenantID: tenantID) else { throw VerificationError.notFound }
        return v
    }

    // MARK: queries

    public func findVerification(id: String, tenantID: String) async throws -> Verification? {
        try await rows("SELECT * FROM verifications WHERE id = \(id) AND tenant_id = \(tenantID)").first.map(Self.verification)
    }

    public func destinationState(tenantID: String, destinationKey: String) async throws -> DestinationState? {
        try await rows("SELECT * FROM destinations WHERE tenant_id = \(tenantID) AND destination = \(destinationKey)").first
            .map(PostgresDatabase.destinationState)
    }

    // MARK: token ledger

    /// The ledger entry and, when it is new, its audit entry: one statement.
    public func consume(_ token: ConsumedToken) async throws -> Bool {
        let audit = token.audit.map { InsertAuditEntries.row(.consumed(token, by: $0)) }
        return try await !rows(
            """
            WITH c AS (
                INSERT INTO consumed_tokens (jti, tenant_id, expires_at, consumed_at)
                VALUES (\(token.jti), \(token.tenantID), \(token.expiresAt.milliseconds), \(token.consumedAt.milliseconds))
                ON CONFLICT (jti) DO NOTHING RETURNING jti
            ), a AS (
                INSERT INTO audit_entries (tenant_id, at, action, actor, subject, masked, request_id, detail)
                SELECT x.tenant_id, x.at, x.action, x.actor, x.subject, x.masked, x.request_id, x.detail
                FROM c, jsonb_to_record(\(audit.map { JSONValue.object($0).serialized }.map { String(decoding: $0, as: UTF8.self) })::jsonb) AS x(
                    tenant_id text, at bigint, action text, actor text, subject text, masked text, request_id text, detail text)
                WHERE x.tenant_id IS NOT NULL
            )
            SELECT jti FROM c
            """
        ).isEmpty
    }

    public func isConsumed(jti: String) async throws -> Bool {
        try await !rows("SELECT 1 AS used FROM consumed_tokens WHERE jti = \(jti)").isEmpty
    }
}

extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
