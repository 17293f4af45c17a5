import Foundation
public import OTPGateCore
import PostgresNIO

extension PostgresStore {
    /// One statement: the conditional add (a row from an ended period starts over; within the period the add happens
    /// only if it fits) and, when it crosses 80 %, the tenant's warning event.
    public func chargeBudget(_ charge: SendBudget.Charge, tenantID: String, warning: String, now: Timestamp) async throws -> Int64? {
        guard charge.amount <= charge.limit else { return nil }
        let type = WebhookEventType.budgetWarning
        let mark = SendBudget.warnAt(charge)
        return try await rows(
            """
            WITH s AS (
                INSERT INTO budget_usage (scope, window_end, used) VALUES (\(charge.scope), \(charge.windowEnd), \(charge.amount))
                ON CONFLICT (scope) DO UPDATE SET
                    used = CASE WHEN budget_usage.window_end >= excluded.window_end
                                THEN budget_usage.used + excluded.used ELSE excluded.used END,
                    window_end = GREATEST(budget_usage.window_end, excluded.window_end)
                WHERE budget_usage.window_end < excluded.window_end OR budget_usage.used + excluded.used <= \(charge.limit)
                RETURNING used
            ), e AS (
                INSERT INTO webhook_events (id, tenant_id, type, verification_id, detail, state, attempts, created_at, next_attempt_at)
                SELECT \(WebhookEvent.id(subject: SendBudget.warningSubject(charge), type: type)), w.tenant_id, \(type.rawValue), '',
                    \(warning), 'pending', 0, \(now.milliseconds), \(now.milliseconds)
                FROM s JOIN webhook_endpoints w ON w.tenant_id = \(tenantID) AND strpos(w.events, \(",\(type.rawValue),")) > 0
                WHERE s.used - \(charge.amount) < \(mark) AND s.used >= \(mark)
                ON CONFLICT (id) DO NOTHING
            )
            SELECT used FROM s
            """
        ).first?["used"].decode(Int64.self)
    }

    public func refundBudget(_ charge: SendBudget.Charge) async throws {
        _ = try await rows(
            """
            UPDATE budget_usage SET used = GREATEST(used - \(charge.amount), 0)
            WHERE scope = \(charge.scope) AND window_end = \(charge.windowEnd)
            """)
    }
}
