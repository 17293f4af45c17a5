import Foundation
import OTPGateCore
import Synchronization

/// Group commit for PostgreSQL: concurrent requests of one kind wait here and run together, many to one
/// transaction, so a commit (and each round trip) is paid per batch instead of per request.
///
/// At most `maxConcurrent` batches run at once. A request that arrives while one is free starts a batch of its own
/// at once (no added latency when idle); requests arriving while all are busy wait and leave together in the next
/// batch, so batches grow exactly when the database is the bottleneck.
///
/// Every request is answered within `timeout` of its arrival: a batch's database work is cut off at the deadline of
/// its oldest request, and a request that waited its whole deadline in the queue is refused without running.
final class BatchQueue<Job: Sendable, Output: Sendable>: Sendable {
    /// Runs one batch; returns one result per job, in order. Runs the database work under `deadline`.
    typealias Flush = @Sendable (_ jobs: [Job], _ deadline: ContinuousClock.Instant) async -> [Result<Output, any Error>]

    private struct Waiting: Sendable {
        let job: Job
        let arrived: ContinuousClock.Instant
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct State: Sendable {
        var waiting: [Waiting] = []
        var running = 0
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let maxConcurrent: Int
    private let timeout: Duration
    private let flush: Flush

    init(maxBatch: Int, maxConcurrent: Int, timeout: Duration, flush: @escaping Flush) {
        precondition(maxBatch > 0 && maxConcurrent > 0)
        self.maxBatch = maxBatch
        self.maxConcurrent = maxConcurrent
        self.timeout = timeout
        self.flush = flush
    }

    /// Requests waiting for a batch (for tests and diagnostics).
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    func submit(_ job: Job) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let startsRunner = state.withLock { state in
                state.waiting.append(Waiting(job: job, arrived: .now, continuation: continuation))
                guard state.running < maxConcurrent else { return false }
                state.running += 1
                return true
            }
            if startsRunner { Task { await self.run() } }
        }
    }

    /// Takes batches until nobody is waiting.
    private func run() async {
        while let batch = nextBatch() {
            let now = ContinuousClock.now
            var live: [Waiting] = []
            for entry in batch {
                if now - entry.arrived >= timeout {
                    entry.continuation.resume(throwing: StoreError(.unavailable, "postgres: no answer within \(timeout)"))
                } else {
                    live.append(entry)
                }
            }
            guard let oldest = live.map(\.arrived).min() else { continue }
            let results = await flush(live.map(\.job), oldest + timeout)
            for (entry, result) in zip(live, results) { entry.continuation.resume(with: result) }
            if results.count < live.count {
                for entry in live[results.count...] { entry.continuation.resume(throwing: StoreError(.corrupt, "batch returned too few results")) }
            }
        }
    }

    private func nextBatch() -> [Waiting]? {
        state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.running -= 1
                return nil
            }
            let count = min(maxBatch, state.waiting.count)
            let batch = Array(state.waiting.prefix(count))
            state.waiting.removeFirst(count)
            return batch
        }
    }
}
