/// The verification use cases' writes: each runs `StartDecider`, `CheckDecider`, `ResendDecider` or
/// `CancelDecider` on what it loaded and locked, and writes the decision atomically. A command's `KeyRequest`, if
/// any, is counted first (`KeyRequestLimit`); a refused request still counts.
public protocol VerificationStore: AbuseStore, BudgetStore {
    func startVerification(_ command: StartCommand) async throws -> StartResult
    func checkVerification(_ command: CheckCommand) async throws -> CheckOutcome
    func resendVerification(_ command: ResendCommand) async throws -> Verification
    func cancelVerification(id: String, tenantID: String, now: Timestamp, keyRequest: KeyRequest?) async throws -> Verification
    /// Reads one verification of the tenant, counting the request against its key when `keyRequest` is set.
    func verification(id: String, tenantID: String, keyRequest: KeyRequest?) async throws -> Verification
    /// Counts one request against its key's per-second limit and throws `keyRateLimited` past it.
    func countKeyRequest(_ request: KeyRequest) async throws
    /// Adds one to a shared fixed-window counter in one atomic statement and returns the count (`RequestCounters`).
    func incrementCounter(scope: String, window: Int64) async throws -> Int
    /// Every message of a verification, oldest first (a check of a verification with a fallback asks which left).
    func outboxMessages(verificationID: String) async throws -> [OutboxMessage]
}
