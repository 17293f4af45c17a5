/// What the store remembers about one destination of one tenant across its verifications:
/// the run of consecutive failed checks and any lock it earned.
public struct DestinationState: Sendable, Equatable {
    public var tenantID: String
    /// The destination's blind index (`Verification.destinationKey`), never the destination itself.
    public var destinationKey: String
    public var failedChecks: Int
    /// When the current run of failures began; a run older than the failure window starts over.
    public var firstFailureAt: Timestamp?
    public var lockedUntil: Timestamp?

    public init(tenantID: String, destinationKey: String, failedChecks: Int = 0, firstFailureAt: Timestamp? = nil, lockedUntil: Timestamp? = nil) {
        self.tenantID = tenantID
        self.destinationKey = destinationKey
        self.failedChecks = failedChecks
        self.firstFailureAt = firstFailureAt
        self.lockedUntil = lockedUntil
    }
}
