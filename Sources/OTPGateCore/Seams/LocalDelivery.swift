/// A hand-off from the engine to this process's outbox worker. A message the worker has room for is written to the
/// outbox already claimed (with a lease), then handed over after the commit, so the common path costs no claim
/// statement and no wait. The store's lease stays the truth: a message that is never delivered here
/// becomes due again when its lease runs out, for any instance.
public protocol LocalDelivery: Sendable {
    /// The lease end to write a new message with, or `nil` to leave it to a worker that finds it in the store (the local queue is full).
    func lease(now: Timestamp) -> Timestamp?
    /// Takes a committed, claimed message for delivery.
    func handOff(_ message: OutboxMessage)
    /// Wakes the worker for a committed message that was not claimed.
    func nudge()
}
