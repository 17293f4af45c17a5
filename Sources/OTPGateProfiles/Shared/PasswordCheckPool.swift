import NIOCore
import NIOPosix
public import OTPGateCore
import Synchronization

/// Runs the slow password hashes (about 50 ms of a core each, `PasswordHash`) on a few dedicated threads, never on
/// the event loops or the concurrency pool that serve requests, so a burst of password checks queues here while
/// every other request keeps its speed. Past `queueLimit` waiting checks, new ones are refused at once (`Busy`).
public final class PasswordCheckPool: Sendable {
    public struct Busy: Error, Sendable {}

    private let pool: NIOThreadPool
    private let inFlight = Atomic<Int>(0)
    public let threads: Int
    public let queueLimit: Int

    /// - Parameter threads: defaults to half the cores (at least one), leaving the rest to requests.
    public init(threads: Int? = nil, queueLimit: Int = 256) {
        let count = max(1, threads ?? System.coreCount / 2)
        self.threads = count
        self.queueLimit = queueLimit
        pool = NIOThreadPool(numberOfThreads: count)
        pool.start()
    }

    deinit { pool.shutdownGracefully { _ in } }

    public func verify(_ password: String, against phc: String) async throws -> Bool {
        try await run { PasswordHash.verify(password, against: phc) }
    }

    public func hash(_ password: String, random: any RandomSource) async throws -> String {
        try await run { try PasswordHash.hash(password, random: random) }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        guard inFlight.add(1, ordering: .relaxed).newValue <= queueLimit + threads else {
            inFlight.subtract(1, ordering: .relaxed)
            throw Busy()
        }
        defer { inFlight.subtract(1, ordering: .relaxed) }
        return try await pool.runIfActive(body)
    }
}
