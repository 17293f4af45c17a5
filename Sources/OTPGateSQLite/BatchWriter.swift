import GRDB
import OTPGateCore
import Synchronization

/// Group commit for SQLite: concurrent requests' writes are queued and run by one writer as a batch inside a
/// single transaction, each in its own savepoint. One refused or failed request rolls back only itself; no request
/// is answered before its batch's COMMIT returns, and if the commit fails every request in the batch fails.
/// This is what turns SQLite's one-writer rule into tens of thousands of small transactions per second.
final class BatchWriter: Sendable {
    private struct Job: Sendable {
        /// Runs inside the batch transaction and returns how to answer the caller once the batch has committed.
        let run: @Sendable (Database) -> @Sendable () -> Void
        let fail: @Sendable (any Error) -> Void
    }

    private struct Queue {
        var jobs: [Job] = []
        var draining = false
    }

    private let pool: DatabasePool
    private let queue = Mutex(Queue())
    private let maxBatch: Int

    init(pool: DatabasePool, maxBatch: Int = 256) {
        self.pool = pool
        self.maxBatch = maxBatch
    }

    /// Runs `body` atomically (in a savepoint of the next batch) and returns its result after the batch commits.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { db in
                    do {
                        let result = try Self.inSavepoint(db, body)
                        return { continuation.resume(returning: result) }
                    } catch {
                        return { continuation.resume(throwing: error) }
                    }
                },
                fail: { continuation.resume(throwing: $0) })
            let startDrain = queue.withLock { q -> Bool in
                q.jobs.append(job)
                if q.draining { return false }
                q.draining = true
                return true
            }
            if startDrain { Task { await self.drain() } }
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

    private func drain() async {
        while true {
            let batch = queue.withLock { q -> [Job] in
                let taken = Array(q.jobs.prefix(maxBatch))
                q.jobs.removeFirst(taken.count)
                if taken.isEmpty { q.draining = false }
                return taken
            }
            if batch.isEmpty { return }
            do {
                let completions = try await pool.write { db in batch.map { $0.run(db) } }
                for complete in completions { complete() }
            } catch {
                let failure = SQLiteStore.storeError(error)
                for job in batch { job.fail(failure) }
            }
        }
    }
}
