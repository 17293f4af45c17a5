import Foundation
public import Logging
public import OTPGateCore
import PostgresNIO
public import ServiceLifecycle

/// The scale-out store: PostgreSQL through PostgresNIO's pooled `PostgresClient`. Any number of OTPGate instances
/// share it. Each operation is one transaction that locks what it decides on (`SELECT … FOR UPDATE` on the
/// verification, an upsert on the destination row that serialises everything about one destination), decides with
/// the engine's deciders and writes; a per-key request counter is its own one-statement transaction, so a hot key
/// never holds a lock across a request. Starts and checks, the hot path, are group-committed: concurrent ones share
/// a transaction and a few set-based statements (`BatchQueue`, `StartBatch`, `CheckBatch`).
public final class PostgresStore: Store, Service, Sendable {
    let database: PostgresDatabase
    let starts: BatchQueue<StartCommand, StartResult>
    let checks: BatchQueue<CheckCommand, CheckOutcome>

    /// How connections are protected (said at start-up).
    public let transportSecurity: PostgresTransportSecurity

    var client: PostgresClient { database.client }
    var logger: Logger { database.logger }

    /// Connects lazily, once `run()` runs the pool.
    /// - Parameters:
    ///   - poolSize: connections this instance may open.
    ///   - batching: how starts and checks share transactions (see `PostgresBatching`).
    ///   - timeout: how long an operation may wait for PostgreSQL before it fails as `unavailable`.
    public init(
        url: String, poolSize: Int = 32, batching: PostgresBatching = PostgresBatching(), timeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "otpgate.postgres")
    ) throws {
        let parsed = try PostgresURL(url, poolSize: poolSize)
        transportSecurity = parsed.security
        let client = PostgresClient(configuration: parsed.configuration, backgroundLogger: logger)
        let database = PostgresDatabase(client: client, logger: logger, operationTimeout: timeout)
        self.database = database
        starts = BatchQueue(maxBatch: batching.maxBatch, maxConcurrent: batching.concurrentBatches, timeout: timeout) { jobs, deadline in
            await StartBatch(database: database, commands: jobs).run(until: deadline)
        }
        checks = BatchQueue(maxBatch: batching.maxBatch, maxConcurrent: batching.concurrentBatches, timeout: timeout) { jobs, deadline in
            await CheckBatch(database: database, commands: jobs).run(until: deadline)
        }
    }

    /// Runs the connection pool until graceful shutdown (or cancellation): the store is a service of the
    /// application's `ServiceGroup`, started before and stopped after everything that uses it.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { await self.client.run() }
    }

    /// Nothing to release here: the pool closes when `run()` ends.
    public func close() async {}

    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await database.transaction(body)
    }

    func connection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await database.connection(body)
    }

    func rows(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [PostgresRandomAccessRow] {
        try await database.rows(query, on: connection)
    }

    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await database.rows(query)
    }

    // MARK: lifecycle

    /// Applies pending migrations under an advisory lock, so instances starting together migrate once.
    public func migrate() async throws {
        // No deadline: waiting for another instance's migration, or a long migration, is expected here.
        try await client.withConnection { connection in
            _ = try await self.rows("SELECT pg_advisory_lock(74726174)", on: connection)
            do {
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                    logger: self.logger)
                let applied = Set(
                    try await self.rows("SELECT version FROM schema_migrations", on: connection).map { try $0["version"].decode(Int.self) })
                for migration in Schema.migrations where !applied.contains(migration.version) {
                    try await connection.query("BEGIN", logger: self.logger)
                    do {
                        for statement in migration.statements {
                            try await connection.query(PostgresQuery(unsafeSQL: Schema.Dialect.postgres.render(statement)), logger: self.logger)
                        }
                        try await connection.query(
                            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(migration.version), \(migration.name), \(Timestamp(Date()).milliseconds))",
                            logger: self.logger)
                        try await connection.query("COMMIT", logger: self.logger)
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: self.logger)
                        throw error
                    }
                }
            } catch {
                _ = try? await self.rows("SELECT pg_advisory_unlock(74726174)", on: connection)
                throw error
            }
            _ = try await self.rows("SELECT pg_advisory_unlock(74726174)", on: connection)
        }
    }

    public func ping() async throws {
        _ = try await rows("SELECT 1 AS ok")
    }

    // MARK: tenants and keys

    static func tenant(_ row: PostgresRandomAccessRow) throws -> Tenant {
        let policyText = try row["policy"].decode(String.self)
        return Tenant(
            id: try row["id"].decode(String.self), name: try row["name"].decode(String.self),
            createdAt: Timestamp(milliseconds: try row["created_at"].decode(Int64.self)),
            policy: (try? PolicyOverrides(jsonText: policyText)) ?? PolicyOverrides(),
            testDestinations: TestDestination.parse(try row["test_destinations"].decode(String.self)))
    }

    static func encodePolicy(_ overrides: PolicyOverrides) throws -> String {
        overrides.jsonText
    }

    static func insertKey(_ key: APIKeyRecord, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at, revoked_at, profile, settings)
            VALUES (\(key.id), \(key.tenantID), \(ByteBuffer(bytes: key.hash)), \(key.prefix), \(key.createdAt.milliseconds),
                    \(key.revokedAt?.milliseconds), \(key.profile), \(key.sealedSettings.isEmpty ? nil : ByteBuffer(bytes: key.sealedSettings)))
            """, logger: logger)
    }

    public func createTenant(_ tenant: Tenant, firstKey: APIKeyRecord, audit: AuditEntry?) async throws {
        let policy = try Self.encodePolicy(tenant.policy)
        try await transaction { connection in
            try await connection.query(
                "INSERT INTO tenants (id, name, policy, created_at) VALUES (\(tenant.id), \(tenant.name), \(policy), \(tenant.createdAt.milliseconds))",
                logger: self.logger)
            try await Self.insertKey(firstKey, on: connection, logger: self.logger)
            if let audit { _ = try await self.database.execute(InsertAuditEntries([audit]), on: connection) }
        }
    }

    public func tenants() async throws -> [Tenant] {
        try await rows("SELECT * FROM tenants ORDER BY created_at, id").map(Self.tenant)
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await rows("SELECT * FROM tenants WHERE id = \(id)").first.map(Self.tenant)
    }

    public func updateTenantTestDestinations(id: String, _ destinations: [String: TestDestination], audit: AuditEntry?) async throws -> Bool {
        let text = TestDestination.jsonText(destinations)
        return try await audited(audit) { connection in
            let changed = try await !self.rows("UPDATE tenants SET test_destinations = \(text) WHERE id = \(id) RETURNING id", on: connection).isEmpty
            return (changed, changed)
        }
    }

    public func updateTenantPolicy(id: String, overrides: PolicyOverrides, audit: AuditEntry?) async throws -> Bool {
        let policy = try Self.encodePolicy(overrides)
        return try await audited(audit) { connection in
            let changed = try await !self.rows("UPDATE tenants SET policy = \(policy) WHERE id = \(id) RETURNING id", on: connection).isEmpty
            return (changed, changed)
        }
    }

    public func createAPIKey(_ key: APIKeyRecord, audit: AuditEntry?) async throws {
        try await audited(audit) { connection in
            try await Self.insertKey(key, on: connection, logger: self.logger)
            return ((), true)
        }
    }

    public func apiKeys(tenantID: String) async throws -> [APIKeyRecord] {
        try await rows("SELECT * FROM api_keys WHERE tenant_id = \(tenantID) ORDER BY created_at, id").map { row in
            APIKeyRecord(
                id: try row["id"].decode(String.self), tenantID: try row["tenant_id"].decode(String.self),
                hash: Array(buffer: try row["key_hash"].decode(ByteBuffer.self)), prefix: try row["prefix"].decode(String.self),
                createdAt: Timestamp(milliseconds: try row["created_at"].decode(Int64.self)),
                revokedAt: try row["revoked_at"].decode(Int64?.self).map(Timestamp.init(milliseconds:)),
                profile: try row["profile"].decode(String?.self),
                sealedSettings: try row["settings"].decode(ByteBuffer?.self).map { Array(buffer: $0) } ?? [])
        }
    }

    public func revokeAPIKey(id: String, at: Timestamp, audit: AuditEntry?) async throws -> Bool {
        // The entry takes the key's tenant in the same statement.
        let e = audit
        return try await !rows(
            """
            WITH revoked AS (
                UPDATE api_keys SET revoked_at = \(at.milliseconds) WHERE id = \(id) AND revoked_at IS NULL RETURNING tenant_id
            ), entry AS (
                INSERT INTO audit_entries (tenant_id, at, action, actor, subject, masked, request_id, detail)
                SELECT tenant_id, \(e?.at.milliseconds), \(e?.action), \(e?.actor), \(e?.subject), \(e?.masked), \(e?.requestID), \(e?.detail)
                FROM revoked WHERE \(e != nil)
            )
            SELECT 1 FROM revoked
            """
        ).isEmpty
    }

    public func principal(forKeyHash hash: [UInt8]) async throws -> Principal? {
        try await principal(
            rows(
                """
                SELECT k.id AS key_id, k.profile AS profile, k.settings AS settings, t.id AS id, t.name AS name, t.policy AS policy, t.test_destinations AS test_destinations,
                    t.created_at AS created_at
                FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = \(ByteBuffer(bytes: hash)) AND k.revoked_at IS NULL
                """))
    }

    public func principal(forKeyID id: String) async throws -> Principal? {
        try await principal(
            rows(
                """
                SELECT k.id AS key_id, k.profile AS profile, k.settings AS settings, t.id AS id, t.name AS name, t.policy AS policy, t.test_destinations AS test_destinations,
                    t.created_at AS created_at
                FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = \(id) AND k.revoked_at IS NULL
                """))
    }

    private func principal(_ found: [PostgresRandomAccessRow]) throws -> Principal? {
        guard let row = found.first else { return nil }
        return Principal(
            tenant: try Self.tenant(row), keyID: try row["key_id"].decode(String.self), profile: try row["profile"].decode(String?.self),
            sealedSettings: try row["settings"].decode(ByteBuffer?.self).map { Array(buffer: $0) } ?? [])
    }

    // MARK: signed requests

    public func claimRequestNonce(tenantID: String, digest: String, now: Timestamp, expiresAt: Timestamp) async throws -> Bool {
        try await !rows(Self.claimQuery(RequestNonce(tenantID: tenantID, digest: digest, expiresAt: expiresAt), now: now)).isEmpty
    }

    func claim(_ nonce: RequestNonce, now: Timestamp, on connection: PostgresConnection) async throws -> Bool {
        try await !rows(Self.claimQuery(nonce, now: now), on: connection).isEmpty
    }

    /// Records a signed request unless it is recorded and unexpired: one conditional upsert.
    static func claimQuery(_ nonce: RequestNonce, now: Timestamp) -> PostgresQuery {
        """
        INSERT INTO request_nonces (tenant_id, digest, expires_at) VALUES (\(nonce.tenantID), \(nonce.digest), \(nonce.expiresAt.milliseconds))
        ON CONFLICT (tenant_id, digest) DO UPDATE SET expires_at = excluded.expires_at WHERE request_nonces.expires_at <= \(now.milliseconds)
        RETURNING 1 AS claimed
        """
    }

    // MARK: secrets

    public func insertSecretIfAbsent(name: String, value: [UInt8], createdAt: Timestamp) async throws -> [UInt8] {
        try await connection { connection in
            try await connection.query(
                "INSERT INTO secrets (name, value, created_at) VALUES (\(name), \(ByteBuffer(bytes: value)), \(createdAt.milliseconds)) ON CONFLICT (name) DO NOTHING",
                logger: self.logger)
            let stored = try await self.rows("SELECT value FROM secrets WHERE name = \(name)", on: connection)
            return try stored.first.map { Array(buffer: try $0["value"].decode(ByteBuffer.self)) } ?? []
        }
    }

    public func secrets(prefix: String) async throws -> [(name: String, value: [UInt8])] {
        let pattern =
            prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            + "%"
        return try await rows("SELECT name, value FROM secrets WHERE name LIKE \(pattern) ORDER BY created_at, name").map { row in
            (name: try row["name"].decode(String.self), value: Array(buffer: try row["value"].decode(ByteBuffer.self)))
        }
    }

    public func replaceSecret(name: String, expected: [UInt8], with value: [UInt8]) async throws -> Bool {
        try await !rows(
            """
            UPDATE secrets SET value = \(ByteBuffer(bytes: value)) WHERE name = \(name) AND value = \(ByteBuffer(bytes: expected))
            RETURNING name
            """
        ).isEmpty
    }
}
