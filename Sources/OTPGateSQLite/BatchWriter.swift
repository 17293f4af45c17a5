import Foundation
import GRDB
import OTPGateCore

/// Group commit for SQLite: concurrent requests' writes are queued and run by one writer thread as a batch inside a
/// single transaction. One failed request rolls back only itself; no request is answered before its batch's COMMIT
/// returns, and if the commit fails every request in the batch fails. This is what turns SQLite's one-writer rule
/// into tens of thousands of small transactions per second.
///
/// A batch first runs its jobs one after another with no savepoints: a savepoint per job made SQLite copy every page
/// a job touched into its statement journal, since the batch's earlier jobs had already changed those pages (about
/// 30 KB and 30 allocations per start). Jobs report refusals as values, so a body throws only when something is
/// wrong; then the whole transaction is rolled back and the batch runs again with each job in its own savepoint.
/// So a job's body may run twice and must change nothing outside the database.
///
/// `@unchecked Sendable`: `jobs` and `stopped` are only touched while holding `signal`'s lock.
final class BatchWriter: @unchecked Sendable {
    private struct Job: Sendable {
        /// Runs inside the batch transaction and returns how to answer the caller once the batch has committed.
        /// `.together` throws `BodyThrew` when the body throws; `.isolated` runs it in a savepoint and never throws.
        let run: @Sendable (Database, Isolation) throws -> @Sendable () -> Void
        let fail: @Sendable (any Error) -> Void
    }

    private enum Isolation { case together, isolated }

    /// A job's body threw in a batch run without savepoints: the batch is rolled back and run again isolated.
    private struct BodyThrew: Error {}

    private let pool: DatabasePool
    private let signal = NSCondition()
    private var jobs: [Job] = []
    private var stopped = false
    private let maxBatch: Int
    private let afterCommit: @Sendable () -> Void

    /// The writer thread's name, as `top -H` and `perf` show it.
    static let threadName = "sqlite-writer"

    /// Starts the writer thread. It runs batches back to back with GRDB's synchronous API, so no batch waits for
    /// a Swift Concurrency thread to become free before the next one starts.
    /// - Parameter afterCommit: called on the writer thread after each committed batch's callers are answered
    ///   (the store tells its `WALCheckpointer`).
    init(pool: DatabasePool, maxBatch: Int = 256, afterCommit: @escaping @Sendable () -> Void = {}) {
        self.pool = pool
        self.maxBatch = maxBatch
        self.afterCommit = afterCommit
        NamedThread.start(Self.threadName) { [self] in self.runLoop() }
    }

    /// How many writes wait for the next batch (tests use it to gather one).
    var queuedJobs: Int {
        signal.lock()
        defer { signal.unlock() }
        return jobs.count
    }

    /// Ends the writer thread once the queue is empty.
    func stop() {
        signal.lock()
        stopped = true
        signal.signal()
        signal.unlock()
    }

    /// Runs `body` atomically (in a savepoint of the next batch) and returns its result after the batch commits.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { db, isolation in
                    switch isolation {
                    case .together:
                        do {
                            let result = try body(db)
                            return { continuation.resume(returning: result) }
                        } catch {
                            throw BodyThrew()
                        }
                    case .isolated:
                        do {
                            let result = try Self.inSavepoint(db, body)
                            return { continuation.resume(returning: result) }
                        } catch {
                            return { continuation.resume(throwing: error) }
                        }
                    }
                },
                fail: { continuation.resume(throwing: $0) })
            signal.lock()
            jobs.append(job)
            signal.signal()
            signal.unlock()
        }
    }

    /// Runs `body` in a savepoint with cached statements (GRDB's `inSavepoint` prepares them anew each time).
    private static func inSavepoint<T>(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        try db.cachedStatement(sql: "SAVEPOINT job").execute()
        do {
            let value = try body(db)
            try db.cachedStatement(sql: "RELEASE SAVEPOINT job").execute()
            return value
        } catch {
            try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT job").execute()
            try db.cachedStatement(sql: "RELEASE SAVEPOINT job").execute()
            throw error
        }
    }

    /// Runs `batch` in one transaction, `BEGIN IMMEDIATE` … `COMMIT` from cached statements (GRDB's `write` compiles
    /// both anew for every batch), and returns how to answer each job. Rolls back when a job or the commit throws (a
    /// deferred constraint, say), unless SQLite already has.
    private static func transaction(_ batch: [Job], _ isolation: Isolation, _ db: Database) throws -> [@Sendable () -> Void] {
        try db.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
        do {
            var completions: [@Sendable () -> Void] = []
            completions.reserveCapacity(batch.count)
            for job in batch {
                // SQLite ends the whole transaction itself after some errors (an interrupt, a full disk, an I/O
                // error): a later job would then run and commit on its own while its caller is told it failed.
                guard db.isInsideTransaction else { throw DatabaseError(resultCode: .SQLITE_ABORT, message: "the batch's transaction was aborted") }
                completions.append(try job.run(db, isolation))
            }
            try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
            return completions
        } catch {
            if db.isInsideTransaction { try? db.cachedStatement(sql: "ROLLBACK TRANSACTION").execute() }
            throw error
        }
    }

    private func runLoop() {
        while true {
            signal.lock()
            while jobs.isEmpty && !stopped { signal.wait() }
            if jobs.isEmpty && stopped {
                signal.unlock()
                return
            }
            let batch = Array(jobs.prefix(maxBatch))
            jobs.removeFirst(batch.count)
            signal.unlock()
            do {
                let completions: [@Sendable () -> Void]
                do {
                    completions = try pool.writeWithoutTransaction { db in try Self.transaction(batch, .together, db) }
                } catch is BodyThrew {
                    completions = try pool.writeWithoutTransaction { db in try Self.transaction(batch, .isolated, db) }
                }
                for complete in completions { complete() }
                afterCommit()
            } catch {
                let failure = SQLiteStore.storeError(error)
                for job in batch { job.fail(failure) }
            }
        }
    }
}
