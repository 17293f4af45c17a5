import Foundation
import GRDB
public import OTPGateCore

extension SQLiteStore {
    public func chargeBudget(_ charge: SendBudget.Charge, tenantID: String, warning: String, now: Timestamp) async throws -> Int64? {
        guard charge.amount <= charge.limit else { return nil }
        return try await write { db in
            // A row from an ended period starts over; within the period the add happens only if it fits.
            guard
                let total = try Int64.fetchOne(
                    db.cachedStatement(
                        sql: """
                            INSERT INTO budget_usage (scope, window_end, used) VALUES (?, ?, ?)
                            ON CONFLICT (scope) DO UPDATE SET
                                used = CASE WHEN budget_usage.window_end >= excluded.window_end
                                            THEN budget_usage.used + excluded.used ELSE excluded.used END,
                                window_end = max(budget_usage.window_end, excluded.window_end)
                            WHERE budget_usage.window_end < excluded.window_end OR budget_usage.used + excluded.used <= ?
                            RETURNING used
                            """), arguments: [charge.scope, charge.windowEnd, charge.amount, charge.limit])
            else { return nil }
            if SendBudget.crossesWarning(charge, total: total) {
                try Self.recordEvent(
                    db, .budgetWarning, subject: SendBudget.warningSubject(charge), tenantID: tenantID, verificationID: "", channel: nil,
                    purpose: nil, detail: warning, now: now)
            }
            return total
        }
    }

    public func refundBudget(_ charge: SendBudget.Charge) async throws {
        try await write { db in
            try db.cachedStatement(sql: "UPDATE budget_usage SET used = max(used - ?, 0) WHERE scope = ? AND window_end = ?")
                .execute(arguments: [charge.amount, charge.scope, charge.windowEnd])
        }
    }
}
