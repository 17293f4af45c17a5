import Foundation
import GRDB

/// Copies the WAL back into the database file on a thread and connection of its own, so no batch waits for it.
///
/// SQLite checkpoints by default inside the `COMMIT` that takes the WAL past 1,000 pages: that batch's requests then
/// wait for a few megabytes of writes and an fsync of the database file (4 % of a start's CPU, and the slowest
/// answers of the start workload). Here the writer only says that it committed; at most `interval` later this
/// thread runs a `PASSIVE` checkpoint, which never blocks the writer or a reader. When idle it sleeps without
/// waking. The writer keeps SQLite's own checkpoint at `SQLiteStore.writerAutocheckpointPages`: by then this thread
/// has copied nearly every page, so that checkpoint is short, and it restarts the WAL from its beginning.
///
/// `@unchecked Sendable`: `committed`, `stopped`, `finished` and `runs` are only touched while holding `signal`'s lock.
final class WALCheckpointer: @unchecked Sendable {
    /// What one checkpoint found and did, in WAL frames (pages).
    struct Result: Sendable, Equatable {
        /// Frames in the WAL.
        var walFrames: Int
        /// Frames now copied into the database file.
        var checkpointed: Int
    }

    private let connection: DatabaseQueue
    private let interval: TimeInterval
    private let signal = NSCondition()
    private var committed = false
    private var stopped = false
    private var finished = false
    private var runs = 0

    /// The thread's name, as `top -H` and `perf` show it.
    static let threadName = "sqlite-ckpt"

    /// - Parameters:
    ///   - path: the database file, already in WAL mode.
    ///   - synchronous: the store's mode: with `FULL` the checkpoint syncs the database file before the WAL is reused.
    init(path: String, synchronous: String, interval: Duration) throws {
        var config = Configuration()
        config.label = "otpgate-sqlite-checkpointer"
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        connection = try DatabaseQueue(path: path, configuration: config)
        self.interval = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        NamedThread.start(Self.threadName) { [self] in self.runLoop() }
    }

    /// Called by the writer after each commit: a checkpoint is due within `interval`.
    func noteCommit() {
        signal.lock()
        if !committed {
            committed = true
            signal.signal()
        }
        signal.unlock()
    }

    /// Checkpoints run by the thread so far (for tests).
    var completedRuns: Int {
        signal.lock()
        defer { signal.unlock() }
        return runs
    }

    /// Runs one `PASSIVE` checkpoint now, on this connection.
    @discardableResult
    func checkpoint() throws -> Result {
        try connection.writeWithoutTransaction { db in
            let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
            return Result(walFrames: row?[1] ?? 0, checkpointed: row?[2] ?? 0)
        }
    }

    /// Ends the thread (after a checkpoint it is running) and closes the connection.
    func stop() {
        signal.lock()
        stopped = true
        signal.signal()
        while !finished { signal.wait() }
        signal.unlock()
        try? connection.close()
    }

    private func runLoop() {
        signal.lock()
        while true {
            while !committed && !stopped { signal.wait() }
            if stopped { break }
            // Let commits gather for `interval`, so one checkpoint copies each hot page once.
            _ = signal.wait(until: Date(timeIntervalSinceNow: interval))
            if stopped { break }
            committed = false
            signal.unlock()
            // A checkpoint that fails (the disk, a lock held by a process outside OTPGate) is retried at the next
            // commit; the writer's backstop keeps the WAL bounded meanwhile.
            _ = try? checkpoint()
            signal.lock()
            runs += 1
        }
        finished = true
        signal.broadcast()
        signal.unlock()
    }
}
