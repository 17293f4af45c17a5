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
        _ commands: [Command], admissions: [RequestAdmission?], until deadline: ContinuousClock.Instant,
        apply: @escaping @Sendable ([Command], KeyCounting, PostgresConnection) async throws -> [Result<Output, any Error>]
    ) async -> [Result<Output, any Error>] {
        let counting = KeyCounting { try await self.admit(admissions, until: deadline) }
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
    func admit(_ admissions: [RequestAdmission?], until deadline: ContinuousClock.Instant) async throws -> [VerificationError?] {
        var perKey: [String: (count: Int, window: Int64)] = [:]
        for admission in admissions.compactMap({ $0 }) {
            let window = VerificationRules.admissionWindow(admission.now)
            let seen = perKey[admission.keyID] ?? (0, window)
            perKey[admission.keyID] = (seen.count + 1, max(seen.window, window))
        }
        guard !perKey.isEmpty else { return admissions.map { _ in nil } }
        var input = BatchJSON()
        for (keyID, counted) in perKey {
            input.append(["scope": .string("key:" + keyID), "window_start": .int(counted.window), "n": .int(counted.count)])
        }
        let totals = try await connection(until: deadline) { [input] connection in
            try await self.execute(CountRequests(rows: input), on: connection)
        }
        var total: [String: Int] = [:]
        for row in totals { total[String(try row["scope"].decode(String.self).dropFirst(4))] = try row["count"].decode(Int.self) }
        // The k-th request of a key in this batch (of n) holds count total - n + 1 + k.
        var position: [String: Int] = [:]
        return admissions.map { admission in
            guard let admission, let counted = perKey[admission.keyID], let final = total[admission.keyID] else { return nil }
            let k = position[admission.keyID, default: 0]
            position[admission.keyID] = k + 1
            let count = final - counted.count + 1 + k
            return VerificationRules.admissionRefusal(countInWindow: count, limit: admission.limitPerSecond, now: admission.now)
        }
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
