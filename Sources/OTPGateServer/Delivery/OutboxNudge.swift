import Synchronization

/// A flag an engine raises after committing a message, so the local outbox worker wakes at once instead of
/// at its next poll. Other instances' messages are found by polling; correctness never depends on the nudge.
public final class OutboxNudge: Sendable {
    private let raised = Atomic<Bool>(false)

    public init() {}

    public func raise() { raised.store(true, ordering: .releasing) }

    /// Clears the flag and says whether it was raised.
    func take() -> Bool { raised.exchange(false, ordering: .acquiringAndReleasing) }
}
