import Foundation
import OTPGateCore
import PostgresNIO

/// Each request's key refusal (or `nil`), counted while a batch's transaction runs.
typealias KeyCounting = Task<[VerificationError?], any Error>

extension PostgresDatabase {
    /// Runs one batch: `apply` in a transaction, while the batch's key counting runs as a statement of its own on
    /// another connection (the batch waits for one round trip less; `apply` awaits it before deciding). A storage
    /// failure fails every request of the batch; a refusal is one request's result.
    func runBatch<Command: Sendable, Output: Sendable>(
        _ commands: [Command], keyRequests: [KeyRequest?], until deadline: ContinuousClock.Instant,
        apply: @escaping @Sendable ([Command], KeyCounting, PostgresConnection) async throws -> [Result<Output, any Error>]
    ) async -> [Result<Output, any Error>] {
        let counting = KeyCounting { try await self.countKeyRequests(keyRequests, until: deadline) }
        do {
            return try await transaction(until: deadline) { connection in try await apply(commands, counting, connection) }
        } catch {
            counting.cancel()
            return commands.map { _ in .failure(error) }
        }
    }

    /// Counts a batch of requests against their keys' per-second allowances in one statement of its own (its own
    /// commit, so a hot key's counter row is never held locked while a batch's transaction runs), and returns each
    /// request's refusal, if any. Requests count in batch order; a refused request still counts.
    func countKeyRequests(_ requests: [KeyRequest?], until deadline: ContinuousClock.Instant) async throws -> [VerificationError?] {
        let counts = KeyRequestLimit.batchCounts(requests)
        guard !counts.isEmpty else { return requests.map { _ in nil } }
        var input = BatchJSON()
        var keyOfScope: [String: String] = [:]
        for (keyID, counted) in counts {
            let scope = KeyRequestLimit.scope(keyID: keyID)
            keyOfScope[scope] = keyID
            input.append(["scope": .string(scope), "window_start": .int(counted.window), "n": .int(counted.count)])
        }
        let rows = try await connection(until: deadline) { [input] connection in
            try await self.execute(CountRequests(rows: input), on: connection)
        }
        var totals: [String: Int] = [:]
        for row in rows {
            if let keyID = keyOfScope[try row["scope"].decode(String.self)] { totals[keyID] = try row["count"].decode(Int.self) }
        }
        return KeyRequestLimit.refusals(requests, counts: counts, totals: totals)
    }
}

struct CountRequests: BatchStatement {
    static let sql = """
        INSERT INTO request_counters (scope, window_start, count)
        SELECT x.scope, x.window_start, x.n FROM jsonb_to_recordset($1) AS x(scope text, window_start bigint, n int)
        ORDER BY x.scope
        ON CONFLICT (scope) DO UPDATE SET
            count = CASE WHEN request_counters.window_start >= excluded.window_start
                         THEN request_counters.count + excluded.count ELSE excluded.count END,
            window_start = GREATEST(request_counters.window_start, excluded.window_start)
        RETURNING scope, count
        """
    let rows: BatchJSON
}
