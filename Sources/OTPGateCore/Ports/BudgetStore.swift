/// The send budgets' running totals (`SendBudget`), shared by every instance. Each call is one atomic statement, so
/// no request holds a tenant's budget row while the rest of its work runs.
public protocol BudgetStore: Sendable {
    /// Adds the charge to its budget for its period if the total stays within the limit, and returns the new total;
    /// nil (nothing added) when it would not fit. A charge that takes the total across 80 % of the limit writes the
    /// tenant's `budget.warning` webhook event (data `warning`) in the same statement.
    func chargeBudget(_ charge: SendBudget.Charge, tenantID: String, warning: String, now: Timestamp) async throws -> Int64?
    /// Gives back a charge whose send did not happen (the start or resend was refused after it was charged).
    func refundBudget(_ charge: SendBudget.Charge) async throws
}
