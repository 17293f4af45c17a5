import Foundation
import OTPGateCore
import Synchronization
import Testing

@testable import OTPGatePostgres

/// The group-commit queue in front of PostgreSQL: requests that arrive while every slot is busy leave together,
/// each gets its own result, and nobody waits past the deadline.
@Suite(.timeLimit(.minutes(2))) struct BatchQueueTests {
    /// A flush that records its batches and holds the first one until released.
    final class Recorder: Sendable {
        let batches = Mutex<[[Int]]>([])
        let firstStarted = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()

        func flush(_ jobs: [Int]) async -> [Result<Int, any Error>] {
            let isFirst = batches.withLock { batches in
                batches.append(jobs)
                return batches.count == 1
            }
            if isFirst {
                firstStarted.continuation.yield()
                for await _ in release.stream { break }
            }
            return jobs.map { $0 % 2 == 0 ? .success($0 * 10) : .failure(VerificationError.notFound) }
        }
    }

    @Test func requestsArrivingWhileBusyShareTheNextBatchAndEachGetsItsOwnResult() async throws {
        let recorder = Recorder()
        let queue = BatchQueue<Int, Int>(maxBatch: 64, maxConcurrent: 1, timeout: .seconds(60)) { jobs, _ in await recorder.flush(jobs) }
        async let first = queue.submit(0)
        for await _ in recorder.firstStarted.stream { break }
        let later = Task {
            await withTaskGroup(of: (Int, String).self) { group in
                for n in 1...9 {
                    group.addTask {
                        do { return (n, "\(try await queue.submit(n))") } catch VerificationError.notFound { return (n, "refused") } catch {
                            return (n, "\(error)")
                        }  // a deadline or anything else is neither answer
                    }
                }
                var results: [Int: String] = [:]
                for await (n, result) in group { results[n] = result }
                return results
            }
        }
        // Wait until all nine are queued behind the busy slot, then let the first batch finish.
        try await waitUntil("nine requests queued behind the busy slot") { queue.waitingCount == 9 }
        recorder.release.continuation.yield()
        #expect(try await first == 0)
        let results = await later.value
        for n in 1...9 { #expect(results[n] == (n % 2 == 0 ? "\(n * 10)" : "refused")) }
        let batches = recorder.batches.withLock { $0 }
        #expect(batches.count == 2)
        #expect(batches.first == [0])
        #expect(batches.last?.sorted() == Array(1...9))
    }

    @Test func aRequestThatWaitedPastItsDeadlineIsRefusedWithoutRunning() async throws {
        let recorder = Recorder()
        // A deadline long enough that the first request's runner surely starts within it even on a loaded machine
        // (a runner that starts later refuses the first request too, and nothing would ever release it).
        let queue = BatchQueue<Int, Int>(maxBatch: 64, maxConcurrent: 1, timeout: .seconds(2)) { jobs, _ in await recorder.flush(jobs) }
        async let first = queue.submit(0)
        try await waitUntil("the first batch started") { recorder.batches.withLock { $0.count } == 1 }
        let late = Task { try await queue.submit(2) }
        // Queued behind the busy slot, then kept there until well past its 2 s deadline.
        try await waitUntil("the late request queued") { queue.waitingCount == 1 }
        try await Task.sleep(for: .milliseconds(2_500))
        recorder.release.continuation.yield()
        #expect(try await first == 0)
        let error = await #expect(throws: StoreError.self) { try await late.value }
        #expect(error?.kind == .unavailable)
        #expect(recorder.batches.withLock { $0 } == [[0]])
    }
}
