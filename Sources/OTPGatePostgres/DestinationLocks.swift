import Foundation
import OTPGateCore
import PostgresNIO

/// One destination of one tenant: the row that serialises every start, check and resend touching it.
struct DestinationKey: Hashable, Sendable {
    let tenantID: String
    /// The destination's blind index.
    let destinationKey: String
}

extension PostgresDatabase {
    /// Creates the destinations' rows where missing and locks them until the transaction ends, in one statement and
    /// in one order (the SQL `ORDER BY`) for every caller, so two batches locking overlapping sets wait for each
    /// other instead of deadlocking.
    func lockDestinations(_ keys: some Sequence<DestinationKey>, on connection: PostgresConnection) async throws -> [DestinationKey: DestinationState]
    {
        var input = BatchJSON()
        for key in Set(keys) { input.append(["t": .string(key.tenantID), "d": .string(key.destinationKey)]) }
        guard !input.isEmpty else { return [:] }
        let locked = try await execute(LockDestinations(rows: input), on: connection)
        var states: [DestinationKey: DestinationState] = [:]
        for row in locked {
            let state = try Self.destinationState(row)
            states[DestinationKey(tenantID: state.tenantID, destinationKey: state.destinationKey)] = state
        }
        return states
    }

    static func destinationState(_ row: PostgresRandomAccessRow) throws -> DestinationState {
        DestinationState(
            tenantID: try row["tenant_id"].decode(String.self), destinationKey: try row["destination"].decode(String.self),
            failedChecks: try row["failed_checks"].decode(Int.self),
            firstFailureAt: try row["first_failure_at"].decode(Int64?.self).map(Timestamp.init(milliseconds:)),
            lockedUntil: try row["locked_until"].decode(Int64?.self).map(Timestamp.init(milliseconds:)))
    }

    /// Writes destinations' failure runs and locks as decided.
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

struct LockDestinations: BatchStatement {
    static let sql = """
        INSERT INTO destinations (tenant_id, destination, failed_checks)
        SELECT x.t, x.d, 0 FROM jsonb_to_recordset($1) AS x(t text, d text) ORDER BY x.t, x.d
        ON CONFLICT (tenant_id, destination) DO UPDATE SET tenant_id = excluded.tenant_id
        RETURNING tenant_id, destination, failed_checks, first_failure_at, locked_until
        """
    let rows: BatchJSON
}

struct SaveDestinations: BatchStatement {
    static let sql = """
        UPDATE destinations SET failed_checks = x.failed_checks, first_failure_at = x.first_failure_at, locked_until = x.locked_until
        FROM jsonb_to_recordset($1) AS x(t text, d text, failed_checks int, first_failure_at bigint, locked_until bigint)
        WHERE destinations.tenant_id = x.t AND destinations.destination = x.d
        """
    let rows: BatchJSON
}
