import Foundation
import GRDB
public import OTPGateCore

/// The embedded store: one SQLite file in WAL mode through a GRDB `DatabasePool` (parallel readers, one writer).
/// Every write goes through the `BatchWriter`, so each operation is one serialised, atomic read-decide-write:
/// the decisions come from the engine's deciders, and no other process or request can interleave.
public final class SQLiteStore: Store, Sendable {
    let pool: DatabasePool
    let writer: BatchWriter
    let checkpointer: WALCheckpointer

    /// SQLite's own checkpoint on the committing connection, in WAL pages (8 MiB). `WALCheckpointer` has copied nearly
    /// all of them by then, so this checkpoint is short; it is also what lets the WAL start over from its beginning
    /// under continuous load (a background checkpoint never finds every frame copied at the writer's next
    /// transaction). Without it the WAL grew to this threshold at 10,000 pages and the start's p99 at 16 connections
    /// was 11–18 ms instead of 8–9.5.
    static let writerAutocheckpointPages = 2_000

    /// Opens (creating if needed) the database at `path`.
    /// - Parameter synchronous: `FULL` (default) makes every acknowledged write survive power loss; `NORMAL`
    ///   survives a process crash only. Group commit keeps the cost of `FULL` to one fsync per batch.
    /// - Parameter checkpointInterval: how long commits gather before the background checkpoint copies them into the
    ///   database file (`WALCheckpointer`).
    public init(path: String, synchronous: String = "FULL", checkpointInterval: Duration = .milliseconds(25)) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 8
        let mode = synchronous.uppercased() == "NORMAL" ? "NORMAL" : "FULL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(mode)")
            // Each request in a batch runs in a savepoint, whose statement journal SQLite otherwise spills to a file
            // in /var/tmp once it passes 64 KiB: two write syscalls per page a request touches. In memory, it never
            // leaves the process (it holds only the pages of the savepoint open at the time).
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        try Self.makePrivate(path)
        do {
            pool = try DatabasePool(path: path, configuration: config)
            // GRDB turns WAL on for the writer after `prepareDatabase` and sets `synchronous = NORMAL` with it: set the
            // mode again on the writer, the one connection that commits, or FULL would silently be NORMAL.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(mode)")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.writerAutocheckpointPages)")
            }
            let checkpointer = try WALCheckpointer(path: path, synchronous: mode, interval: checkpointInterval)
            self.checkpointer = checkpointer
            writer = BatchWriter(pool: pool, afterCommit: { checkpointer.noteCommit() })
        } catch {
            throw SQLiteStore.storeError(error)
        }
    }

    /// The `synchronous` mode the committing connection runs with (`FULL` or `NORMAL`), read back from SQLite: what
    /// `serve`'s start-up line reports, so a durability setting that did not take is visible.
    public func committedSynchronous() async throws -> String {
        let level = try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        switch level {
        case 3: return "EXTRA"
        case 2: return "FULL"
        case 1: return "NORMAL"
        default: return "OFF"
        }
    }

    /// Whether the committing connection keeps temporary files, the savepoints' statement journal among them, in
    /// memory (`PRAGMA temp_store = MEMORY`), read back from SQLite.
    public func temporaryFilesInMemory() async throws -> Bool {
        try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA temp_store") } == 2
    }

    /// The committing connection's own checkpoint threshold in pages (`PRAGMA wal_autocheckpoint`), read back.
    public func writerAutocheckpoint() async throws -> Int {
        try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") } ?? 0
    }

    deinit {
        writer.stop()
        checkpointer.stop()
    }

    /// Creates the database file readable by its owner only (0600), or narrows an existing one to that. SQLite
    /// creates the WAL, shared-memory and journal files with the database file's mode, so they are private too.
    static func makePrivate(_ path: String) throws {
        guard path != ":memory:", !path.isEmpty else { return }
        let fd = open(path, O_RDWR | O_CREAT, 0o600)
        guard fd >= 0 else { throw StoreError(.unavailable, "sqlite: cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { closeDescriptor(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw StoreError(.unavailable, "sqlite: cannot make \(path) private") }
        for suffix in ["-wal", "-shm", "-journal"] { _ = chmod(path + suffix, 0o600) }
    }

    static func storeError(_ error: any Error) -> any Error {
        if error is VerificationError || error is StoreError || error is SessionBindingError { return error }
        if let db = error as? DatabaseError {
            if db.resultCode == .SQLITE_CONSTRAINT { return StoreError(.conflict, "constraint violated: \(db.message ?? "")") }
            if db.resultCode == .SQLITE_CORRUPT || db.resultCode == .SQLITE_NOTADB { return StoreError(.corrupt, "database file is corrupt") }
            return StoreError(.unavailable, "sqlite: \(db.resultCode)")
        }
        return StoreError(.unavailable, "sqlite: \(error)")
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch { throw SQLiteStore.storeError(error) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await writer.write(body) } catch { throw SQLiteStore.storeError(error) }
    }

    /// A write whose refusals still commit what ran before them (the per-key request counter): the body's
    /// `VerificationError` is carried out of the savepoint as a value and thrown after the batch commits.
    func decide<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let result: Result<T, VerificationError> = try await write { db in
            do { return .success(try body(db)) } catch let refusal as VerificationError { return .failure(refusal) }
        }
        return try result.get()
    }

    // MARK: lifecycle

    public func migrate() async throws {
        try await write { db in
            try db.execute(
                sql: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
            let applied = Set(try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations"))
            for migration in Schema.migrations where !applied.contains(migration.version) {
                for statement in migration.statements { try db.execute(sql: Schema.Dialect.sqlite.render(statement)) }
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    arguments: [migration.version, migration.name, Timestamp(Date()).milliseconds])
            }
        }
    }

    public func close() async {
        writer.stop()
        checkpointer.stop()
        try? pool.close()
    }

    public func ping() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: tenants and keys

    public func createTenant(_ tenant: Tenant, firstKey: APIKeyRecord, audit: AuditEntry?) async throws {
        let policy = try Self.encodePolicy(tenant.policy)
        try await write { db in
            try db.execute(
                sql: "INSERT INTO tenants (id, name, policy, created_at) VALUES (?, ?, ?, ?)",
                arguments: [tenant.id, tenant.name, policy, tenant.createdAt.milliseconds])
            try Self.insertKey(db, firstKey)
            try Self.insertAudit(db, audit)
        }
    }

    static func insertKey(_ db: Database, _ key: APIKeyRecord) throws {
        try db.execute(
            sql: "INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at, revoked_at, profile, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            arguments: [
                key.id, key.tenantID, Data(key.hash), key.prefix, key.createdAt.milliseconds, key.revokedAt?.milliseconds, key.profile,
                key.sealedSettings.isEmpty ? nil : Data(key.sealedSettings),
            ])
    }

    static func encodePolicy(_ overrides: PolicyOverrides) throws -> String {
        overrides.jsonText
    }

    static func tenant(_ row: Row, prefix: String = "") throws -> Tenant {
        let policyText: String = row[prefix + "policy"]
        return Tenant(
            id: row[prefix + "id"], name: row[prefix + "name"], createdAt: Timestamp(milliseconds: row[prefix + "created_at"]),
            policy: (try? PolicyOverrides(jsonText: policyText)) ?? PolicyOverrides(),
            testDestinations: TestDestination.parse(row[prefix + "test_destinations"] ?? "{}"))
    }

    public func tenants() async throws -> [Tenant] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM tenants ORDER BY created_at, id").map { try Self.tenant($0) } }
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM tenants WHERE id = ?", arguments: [id]).map { try Self.tenant($0) } }
    }

    public func updateTenantTestDestinations(id: String, _ destinations: [String: TestDestination], audit: AuditEntry?) async throws -> Bool {
        let text = TestDestination.jsonText(destinations)
        return try await write { db in
            try db.execute(sql: "UPDATE tenants SET test_destinations = ? WHERE id = ?", arguments: [text, id])
            let changed = db.changesCount > 0
            try Self.insertAudit(db, audit, if: changed)
            return changed
        }
    }

    public func updateTenantPolicy(id: String, overrides: PolicyOverrides, audit: AuditEntry?) async throws -> Bool {
        let policy = try Self.encodePolicy(overrides)
        return try await write { db in
            try db.execute(sql: "UPDATE tenants SET policy = ? WHERE id = ?", arguments: [policy, id])
            let changed = db.changesCount == 1
            try Self.insertAudit(db, audit, if: changed)
            return changed
        }
    }

    public func createAPIKey(_ key: APIKeyRecord, audit: AuditEntry?) async throws {
        try await write { db in
            try Self.insertKey(db, key)
            try Self.insertAudit(db, audit)
        }
    }

    public func apiKeys(tenantID: String) async throws -> [APIKeyRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id", arguments: [tenantID]).map { row in
                APIKeyRecord(
                    id: row["id"], tenantID: row["tenant_id"], hash: Array(row["key_hash"] as Data), prefix: row["prefix"],
                    createdAt: Timestamp(milliseconds: row["created_at"]),
                    revokedAt: (row["revoked_at"] as Int64?).map(Timestamp.init(milliseconds:)),
                    profile: row["profile"], sealedSettings: (row["settings"] as Data?).map { Array($0) } ?? [])
            }
        }
    }

    public func revokeAPIKey(id: String, at: Timestamp, audit: AuditEntry?) async throws -> Bool {
        try await write { db in
            let tenantID = try String.fetchOne(
                db, sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING tenant_id",
                arguments: [at.milliseconds, id])
            guard let tenantID else { return false }
            if var audit {
                audit.tenantID = tenantID
                try Self.insertAudit(db, audit)
            }
            return true
        }
    }

    public func principal(forKeyHash hash: [UInt8]) async throws -> Principal? {
        try await principal(where: "k.key_hash = ?", Data(hash))
    }

    public func principal(forKeyID id: String) async throws -> Principal? {
        try await principal(where: "k.id = ?", id)
    }

    private func principal(where condition: String, _ argument: some DatabaseValueConvertible & Sendable) async throws -> Principal? {
        try await read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT k.id AS key_id, k.profile AS profile, k.settings AS settings, t.id AS id, t.name AS name, t.policy AS policy, t.test_destinations AS test_destinations,
                            t.created_at AS created_at
                        FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE \(condition) AND k.revoked_at IS NULL
                        """,
                    arguments: [argument])
            else { return nil }
            return Principal(
                tenant: try Self.tenant(row), keyID: row["key_id"], profile: row["profile"],
                sealedSettings: (row["settings"] as Data?).map { Array($0) } ?? [])
        }
    }

    // MARK: signed requests

    public func claimRequestNonce(tenantID: String, digest: String, now: Timestamp, expiresAt: Timestamp) async throws -> Bool {
        try await write { db in try Self.claim(db, RequestNonce(tenantID: tenantID, digest: digest, expiresAt: expiresAt), now: now) }
    }

    /// Records a signed request unless it is recorded and unexpired: one conditional upsert.
    static func claim(_ db: Database, _ nonce: RequestNonce, now: Timestamp) throws -> Bool {
        try db.cachedStatement(
            sql: """
                INSERT INTO request_nonces (tenant_id, digest, expires_at) VALUES (?, ?, ?)
                ON CONFLICT (tenant_id, digest) DO UPDATE SET expires_at = excluded.expires_at WHERE request_nonces.expires_at <= ?
                """
        ).execute(arguments: [nonce.tenantID, nonce.digest, nonce.expiresAt.milliseconds, now.milliseconds])
        return db.changesCount == 1
    }

    // MARK: secrets

    public func insertSecretIfAbsent(name: String, value: [UInt8], createdAt: Timestamp) async throws -> [UInt8] {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                arguments: [name, Data(value), createdAt.milliseconds])
            let stored = try Data.fetchOne(db, sql: "SELECT value FROM secrets WHERE name = ?", arguments: [name])
            return Array(stored ?? Data())
        }
    }

    public func secrets(prefix: String) async throws -> [(name: String, value: [UInt8])] {
        let rows = try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT name, value FROM secrets WHERE substr(name, 1, ?) = ? ORDER BY created_at, name", arguments: [prefix.count, prefix]
            )
            .map { ($0["name"] as String, Array($0["value"] as Data)) }
        }
        return rows.map { (name: $0.0, value: $0.1) }
    }

    public func replaceSecret(name: String, expected: [UInt8], with value: [UInt8]) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE secrets SET value = ? WHERE name = ? AND value = ?", arguments: [Data(value), name, Data(expected)])
            return db.changesCount == 1
        }
    }
}

/// `close(2)`, which `SQLiteStore.close()` hides inside the type.
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }
