import Foundation
import GRDB
import Synchronization
import Testing

@testable import OTPGateSQLite

/// SQLite's group commit answers nobody before the batch's COMMIT has returned: a write whose commit fails is
/// reported as failed, and nothing of it is stored.
@Suite(.timeLimit(.minutes(2))) struct BatchWriterTests {
    @Test func aWriteWhoseCommitFailsIsReportedFailedAndLeavesNothing() async throws {
        let pool = try DatabasePool(path: try temporaryDirectory().appendingPathComponent("writer.sqlite").path)
        try await pool.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE parent (id INTEGER PRIMARY KEY);
                    CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
                    """)
        }
        let writer = BatchWriter(pool: pool)
        defer { writer.stop() }
        // The statement itself succeeds; only COMMIT checks the deferred constraint, and refuses.
        await #expect(throws: (any Error).self) {
            try await writer.write { db in try db.execute(sql: "INSERT INTO child (id, parent_id) VALUES (1, 99)") }
        }
        #expect(try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM child") } == 0)
        // The writer goes on: the next batch commits and is acknowledged.
        try await writer.write { db in try db.execute(sql: "INSERT INTO parent (id) VALUES (99)") }
        #expect(try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM parent") } == 1)
    }

    /// Holds `writer` on one job while `bodies` queue behind it, so that they form its next batch; returns each
    /// body's outcome, in order.
    func batch(_ writer: BatchWriter, _ bodies: [@Sendable (Database) throws -> Void]) async throws -> [Bool] {
        let gate = DispatchSemaphore(value: 0)
        let holding = Mutex(false)
        let held = Task {
            try await writer.write { _ in
                holding.withLock { $0 = true }
                gate.wait()
            }
        }
        while !holding.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
        return try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for (n, body) in bodies.enumerated() {
                group.addTask {
                    do {
                        try await writer.write(body)
                        return (n, true)
                    } catch {
                        return (n, false)
                    }
                }
            }
            while writer.queuedJobs < bodies.count { try await Task.sleep(for: .milliseconds(1)) }
            gate.signal()
            try await held.value
            let outcomes = try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
            return bodies.indices.map { outcomes[$0] ?? false }
        }
    }

    func makeTable(_ name: String) async throws -> DatabasePool {
        let pool = try DatabasePool(path: try temporaryDirectory().appendingPathComponent(name).path)
        try await pool.write { db in try db.execute(sql: "CREATE TABLE t (v INTEGER NOT NULL)") }
        return pool
    }

    func insert(_ v: Int) -> @Sendable (Database) throws -> Void {
        { db in try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: [v]) }
    }

    /// A batch whose jobs all succeed runs no savepoint; a job that throws in a batch is rolled back alone, its
    /// error reaches only its caller, and every other job of the batch is stored exactly once.
    @Test func aJobThatThrowsRollsBackOnlyItselfAndTheRestOfItsBatchIsStoredOnce() async throws {
        struct Broken: Error {}
        let pool = try await makeTable("batch.sqlite")
        let statements = Mutex<[String]>([])
        try await pool.writeWithoutTransaction { db in
            db.trace { event in statements.withLock { $0.append("\(event)") } }
        }
        let writer = BatchWriter(pool: pool)
        defer { writer.stop() }

        let first = try await batch(writer, (1...8).map(insert))
        #expect(first == Array(repeating: true, count: 8))
        #expect(statements.withLock { $0 }.filter { $0.contains("SAVEPOINT") }.isEmpty)

        let second = try await batch(
            writer,
            (11...18).map { v in
                { db in
                    try self.insert(v)(db)
                    if v == 15 { throw Broken() }
                }
            })
        #expect(second == (11...18).map { $0 != 15 })
        let stored = try await pool.read { db in try Int.fetchAll(db, sql: "SELECT v FROM t ORDER BY v") }
        #expect(stored == Array(1...8) + [11, 12, 13, 14, 16, 17, 18])
    }

    /// SQLite ends the whole transaction itself after some errors (a full disk, an I/O error, memory): no later job
    /// of the batch may then run and commit on its own, and every caller is told the batch failed. A job that ends the
    /// transaction with `ROLLBACK` stands in for such an error, which cannot be caused on demand.
    @Test func aBatchWhoseTransactionEndedUnderItCommitsNothing() async throws {
        let pool = try await makeTable("aborted.sqlite")
        try await pool.write { db in try db.execute(sql: "INSERT INTO t (v) VALUES (0)") }
        let writer = BatchWriter(pool: pool)
        defer { writer.stop() }
        let endingTheTransaction: @Sendable (Database) throws -> Void = { db in
            try db.execute(sql: "INSERT INTO t (v) VALUES (2)")
            try db.execute(sql: "ROLLBACK")
        }
        let outcomes = try await batch(writer, [insert(1), endingTheTransaction, insert(4)])
        #expect(outcomes == [false, false, false])
        let stored = try await pool.read { db in try Int.fetchAll(db, sql: "SELECT v FROM t ORDER BY v") }
        #expect(stored == [0])
        // The writer goes on.
        #expect(try await batch(writer, [insert(5)]) == [true])
    }

    /// An operator reading `top -H` or a `perf` profile sees the store's two threads by name.
    @Test func theStoresThreadsCarryTheirNames() async throws {
        func threadNames() -> [String] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
                .map { $0.trimmingCharacters(in: .newlines) }
        }
        let store = try SQLiteStore(path: try temporaryDirectory().appendingPathComponent("names.sqlite").path)
        var names = threadNames()
        for _ in 0..<100 where !(names.contains(BatchWriter.threadName) && names.contains(WALCheckpointer.threadName)) {
            try await Task.sleep(for: .milliseconds(20))
            names = threadNames()
        }
        #expect(names.contains("sqlite-writer"))
        #expect(names.contains("sqlite-ckpt"))
        await store.close()
    }
}

/// The WAL is copied into the database file by `WALCheckpointer`, on its own thread, after commits and never inside
/// one: the committing connection's own checkpoint is only a distant backstop.
@Suite(.timeLimit(.minutes(2))) struct WALCheckpointerTests {
    func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
    }

    @Test func theCommittingConnectionLeavesCheckpointsToTheCheckpointer() async throws {
        let store = try SQLiteStore(path: try temporaryDirectory().appendingPathComponent("ckpt.sqlite").path)
        try await store.migrate()
        #expect(try await store.writerAutocheckpoint() == SQLiteStore.writerAutocheckpointPages)
        // Above SQLite's default of 1,000 pages, so a commit rarely checkpoints itself.
        #expect(SQLiteStore.writerAutocheckpointPages > 1_000)
        await store.close()
    }

    @Test func committedPagesReachTheDatabaseFileWithoutACheckpointInTheCommit() async throws {
        let path = try temporaryDirectory().appendingPathComponent("ckpt.sqlite").path
        let store = try SQLiteStore(path: path, checkpointInterval: .milliseconds(20))
        try await store.migrate()
        try await store.write { db in try db.execute(sql: "CREATE TABLE filler (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)") }
        let before = fileSize(path)
        // About 2 MiB in 32 batches: below the writer's own checkpoint threshold (8 MiB), so only the
        // background checkpointer can move it into the database file.
        for batch in 0..<32 {
            try await store.write { db in
                for row in 0..<16 {
                    try db.execute(
                        sql: "INSERT INTO filler (id, bytes) VALUES (?, zeroblob(4096))", arguments: [batch * 16 + row])
                }
            }
        }
        var waited = 0
        while fileSize(path) < before + 2_000_000 && waited < 200 {
            try await Task.sleep(for: .milliseconds(25))
            waited += 1
        }
        #expect(fileSize(path) >= before + 2_000_000, "the database file did not grow: the WAL was not checkpointed")
        #expect(store.checkpointer.completedRuns >= 1)
        // Everything committed is in the file: a further checkpoint finds nothing left to copy.
        let result = try store.checkpointer.checkpoint()
        #expect(result.walFrames == result.checkpointed)
        await store.close()
    }

    @Test func anIdleStoreRunsNoCheckpoints() async throws {
        let store = try SQLiteStore(
            path: try temporaryDirectory().appendingPathComponent("idle.sqlite").path, checkpointInterval: .milliseconds(5))
        try await store.migrate()
        try await Task.sleep(for: .milliseconds(100))
        let settled = store.checkpointer.completedRuns
        try await Task.sleep(for: .milliseconds(200))
        #expect(store.checkpointer.completedRuns == settled, "the checkpointer woke up with nothing committed")
        await store.close()
    }
}

/// The SQLite files are readable by their owner only (issue 12): the database, its WAL and shared memory.
@Suite struct SQLiteFileModeTests {
    /// `OTPGATE_SQLITE_SYNCHRONOUS` reaches the connection that commits: GRDB's WAL set-up sets NORMAL on it after the
    /// connection's own preparation, so FULL (the default) used to be NORMAL without a word.
    @Test(arguments: [("FULL", "FULL"), ("NORMAL", "NORMAL"), ("normal", "NORMAL")])
    func theSynchronousModeIsTheCommittingConnections(setting: String, expected: String) async throws {
        let path = try temporaryDirectory().appendingPathComponent("sync.sqlite").path
        let store = try SQLiteStore(path: path, synchronous: setting)
        try await store.migrate()
        #expect(try await store.committedSynchronous() == expected)
        await store.close()
        // The default is FULL, on a new database and on reopening an existing one.
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.committedSynchronous() == "FULL")
        await reopened.close()
    }

    /// A batch runs each request in a savepoint; its statement journal stays in memory instead of spilling to a file
    /// in /var/tmp (two write syscalls per page a request touches, issue 17).
    @Test func theCommittingConnectionKeepsTemporaryFilesInMemory() async throws {
        let store = try SQLiteStore(path: try temporaryDirectory().appendingPathComponent("temp.sqlite").path)
        try await store.migrate()
        #expect(try await store.temporaryFilesInMemory())
        await store.close()
    }

    @Test func theDatabaseAndItsWALAreCreated0600() async throws {
        let dir = try temporaryDirectory()
        let path = dir.appendingPathComponent("private.sqlite").path
        let store = try SQLiteStore(path: path)
        try await store.migrate()
        for suffix in ["", "-wal", "-shm"] {
            let mode = try FileManager.default.attributesOfItem(atPath: path + suffix)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(suffix.isEmpty ? "the database" : suffix) has mode \(String(mode ?? 0, radix: 8))")
        }
        await store.close()
        // An existing database with a wider mode is narrowed when it is opened.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let reopened = try SQLiteStore(path: path)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        await reopened.close()
    }
}
