import Foundation
import Logging
import OTPGateCore
import PostgresNIO
import Synchronization

/// The pooled client with the store's ways of using it: transactions that retry a deadlock, deadlines that turn
/// an unreachable database into a prompt `unavailable`, and rows with random access by column name.
/// Shared by the store and its batch queues.
final class PostgresDatabase: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// How long an operation may wait for the database (including for a connection) before it fails with
    /// `unavailable`: while PostgreSQL is down, requests get a 503 quickly instead of queueing for the pool.
    let operationTimeout: Duration

    init(client: PostgresClient, logger: Logger, operationTimeout: Duration = .seconds(5)) {
        self.client = client
        self.logger = logger
        self.operationTimeout = operationTimeout
    }

    /// The deadline of an operation that starts now.
    var deadline: ContinuousClock.Instant { .now + operationTimeout }

    /// SQLSTATEs of a transaction PostgreSQL aborted to break a deadlock or a serialization conflict: run it again.
    static let retryableStates: Set<String> = ["40P01", "40001"]
    static let transactionAttempts = 3

    /// Storage failures become `StoreError` (503 at the HTTP edge); refusals pass through.
    static func storeError(_ error: any Error) -> any Error {
        if error is VerificationError || error is StoreError || error is SessionBindingError { return error }
        if let psql = error as? PSQLError {
            if psql.code == .server, let state = psql.serverInfo?[.sqlState] {
                if state == "23505" { return StoreError(.conflict, "unique violation") }
                return StoreError(.unavailable, "postgres error \(state)")
            }
            return StoreError(.unavailable, "postgres: \(psql.code)")
        }
        return StoreError(.unavailable, "postgres: \(type(of: error))")
    }

    static func isRetryable(_ error: PostgresTransactionError) -> Bool {
        let cause = error.closureError ?? error.commitError ?? error.beginError
        guard let psql = cause as? PSQLError, psql.code == .server, let state = psql.serverInfo?[.sqlState] else { return false }
        return retryableStates.contains(state)
    }

    /// Runs `body` in a transaction, again (up to `transactionAttempts` times) when PostgreSQL aborts it to break a
    /// deadlock; `body` must therefore decide only from what it reads inside the transaction.
    func transaction<T: Sendable>(
        until deadline: ContinuousClock.Instant? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withDeadline(deadline ?? self.deadline) {
            var attempt = 1
            while true {
                do {
                    return try await self.client.withTransaction(logger: self.logger) { connection in try await body(connection) }
                } catch let error as PostgresTransactionError {
                    if attempt < Self.transactionAttempts, Self.isRetryable(error) {
                        attempt += 1
                        continue
                    }
                    throw Self.storeError(error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError ?? error)
                }
            }
        }
    }

    func connection<T: Sendable>(
        until deadline: ContinuousClock.Instant? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withDeadline(deadline ?? self.deadline) { try await self.client.withConnection { connection in try await body(connection) } }
    }

    /// Runs `body`, giving up at `deadline`. Not a task group: a group would wait for its children, and a request
    /// queued for a connection to a dead server does not end when cancelled; here the caller gets its 503 at the
    /// deadline and the abandoned operation is cancelled and finishes in the background.
    func withDeadline<T: Sendable>(_ deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let outcome = ResumeOnce<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            outcome.set(continuation)
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(Self.storeError(error)) }
                outcome.take()?.resume(with: result)
            }
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                if let waiting = outcome.take() {
                    work.cancel()
                    waiting.resume(throwing: StoreError(.unavailable, "postgres: no answer within \(self.operationTimeout)"))
                }
            }
        }
    }

    /// Rows of a query, with random access by column name.
    func rows(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [PostgresRandomAccessRow] {
        var out: [PostgresRandomAccessRow] = []
        for try await row in try await connection.query(query, logger: logger) { out.append(row.makeRandomAccess()) }
        return out
    }

    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection { try await self.rows(query, on: $0) }
    }
}

/// A continuation resumed by whichever of two tasks gets to it first.
final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)
    func set(_ value: CheckedContinuation<T, any Error>) { continuation.withLock { $0 = value } }
    func take() -> CheckedContinuation<T, any Error>? { continuation.withLock { $0.take() } }
}
