/// Expiry and retention, applied as `SweepDecider` planned them. Safe to run on every instance at once.
public protocol Housekeeping: Sendable {
    func sweep(_ plan: SweepPlan) async throws -> SweepReport
    /// When the earliest pending verification expires, if any: the sweeper sleeps until then.
    func nextExpiry() async throws -> Timestamp?
}
