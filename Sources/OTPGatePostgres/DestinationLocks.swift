import Foundation
import OTPGateCore
import PostgresNIO

/// One destination of one tenant: what every start, check and resend touching it locks (`lockDestinations`).
struct DestinationKey: Hashable, Sendable {
    let tenantID: String
    /// The destination's blind index.
    let destinationKey: String
}

extension PostgresDatabase {
    /// Locks the destinations until the transaction ends: every start, check and resend of one destination runs one
    /// after another, across all instances. Transaction-scoped advisory locks, taken in one statement and in one order
    /// (the SQL `ORDER BY`) for every caller, so two batches locking overlapping sets wait for each other instead of
    /// deadlocking. A lock is not a row: a start writes nothing for its destination (a row lock needed a row for each
    /// destination ever started, one random index insert per start); `destinations` keeps only failure runs and locks.
    /// Read a destination's state in a later statement (`lockAndReadDestinations`, or the start's `RecentStarts`):
    /// its snapshot then sees whatever the previous holder committed.
    func lockDestinations(_ keys: some Sequence<DestinationKey>, on connection: PostgresConnection) async throws {
        try await lock(Self.rows(Set(keys)), on: connection)
    }

    /// `lockDestinations`, then the stored state of those destinations that have one, in a statement of its own (a
    /// destination without a row has had no failure run).
    func lockAndReadDestinations(_ keys: [DestinationKey], on connection: PostgresConnection) async throws -> [DestinationKey: DestinationState] {
        let input = Self.rows(Set(keys))
        try await lock(input, on: connection)
        guard !input.isEmpty else { return [:] }
        var states: [DestinationKey: DestinationState] = [:]
        for row in try await execute(DestinationStates(rows: input), on: connection) {
            let state = try Self.destinationState(row)
            states[DestinationKey(tenantID: state.tenantID, destinationKey: state.destinationKey)] = state
        }
        return states
    }

    private func lock(_ input: BatchJSON, on connection: PostgresConnection) async throws {
        guard !input.isEmpty else { return }
        _ = try await execute(LockDestinationKeys(rows: input), on: connection)
    }

    private static func rows(_ keys: Set<DestinationKey>) -> BatchJSON {
        var input = BatchJSON()
        for key in keys { input.append(["t": .string(key.tenantID), "d": .string(key.destinationKey)]) }
        return input
    }

    static func destinationState(_ row: PostgresRandomAccessRow) throws -> DestinationState {
        DestinationState(
            tenantID: try row["tenant_id"].decode(String.self), destinationKey: try row["destination"].decode(String.self),
            failedChecks: try row["failed_checks"].decode(Int.self),
            firstFailureAt: try row["first_failure_at"].decode(Int64?.self).map(Timestamp.init(milliseconds:)),
            lockedUntil: try row["locked_until"].decode(Int64?.self).map(Timestamp.init(milliseconds:)))
    }

    /// Writes destinations' failure runs and locks as decided (creating the rows of destinations that had none).
    func saveDestinations(_ states: some Collection<DestinationState>, on connection: PostgresConnection) async throws {
        var input = BatchJSON()
        for d in states {
            input.append([
                "t": .string(d.tenantID), "d": .string(d.destinationKey), "failed_checks": .int(d.failedChecks),
                "first_failure_at": .time(d.firstFailureAt), "locked_until": .time(d.lockedUntil),
            ])
        }
        guard !input.isEmpty else { return }
        _ = try await execute(SaveDestinations(rows: input), on: connection)
    }
}

/// The advisory lock key of a destination: a 64-bit hash of the schema, the tenant and the blind index. The schema
/// keeps two deployments sharing one database from waiting on each other; a collision only makes two destinations
/// wait for each other.
struct LockDestinationKeys: BatchStatement {
    static let sql = """
        SELECT count(*) AS locked FROM (
            SELECT pg_advisory_xact_lock(k) FROM (
                SELECT DISTINCT hashtextextended(current_schema() || '/' || x.t || '/' || x.d, 0) AS k
                FROM jsonb_to_recordset($1) AS x(t text, d text)
                ORDER BY k) AS keys) AS locks
        """
    let rows: BatchJSON
}

struct DestinationStates: BatchStatement {
    static let sql = """
        SELECT d.tenant_id, d.destination, d.failed_checks, d.first_failure_at, d.locked_until
        FROM jsonb_to_recordset($1) AS x(t text, d text)
        JOIN destinations d ON d.tenant_id = x.t AND d.destination = x.d
        """
    let rows: BatchJSON
}

struct SaveDestinations: BatchStatement {
    static let sql = """
        INSERT INTO destinations (tenant_id, destination, failed_checks, first_failure_at, locked_until)
        SELECT x.t, x.d, x.failed_checks, x.first_failure_at, x.locked_until
        FROM jsonb_to_recordset($1) AS x(t text, d text, failed_checks int, first_failure_at bigint, locked_until bigint)
        ORDER BY x.t, x.d
        ON CONFLICT (tenant_id, destination) DO UPDATE SET failed_checks = excluded.failed_checks,
            first_failure_at = excluded.first_failure_at, locked_until = excluded.locked_until
        """
    let rows: BatchJSON
}
