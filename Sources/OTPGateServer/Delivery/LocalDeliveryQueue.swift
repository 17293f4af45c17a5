public import OTPGateCore
import Synchronization

/// The in-process hand-off between the engine and this instance's `OutboxWorker` (see `LocalDelivery`).
/// Bounded: when it is full, new messages are written unclaimed and reach a worker by polling instead.
public final class LocalDeliveryQueue: LocalDelivery, Sendable {
    private struct State {
        var messages: [OutboxMessage] = []
        var nudged = false
    }

    private let state = Mutex(State())
    let capacity: Int
    let leaseDuration: Duration

    public init(capacity: Int = 4096, lease: Duration = .seconds(30)) {
        self.capacity = capacity
        self.leaseDuration = lease
    }

    public func lease(now: Timestamp) -> Timestamp? {
        state.withLock { $0.messages.count < capacity } ? now + leaseDuration : nil
    }

    public func handOff(_ message: OutboxMessage) {
        state.withLock { $0.messages.append(message) }
    }

    public func nudge() {
        state.withLock { $0.nudged = true }
    }

    /// Up to `limit` handed-off messages, oldest first.
    func take(_ limit: Int) -> [OutboxMessage] {
        state.withLock { s in
            let taken = Array(s.messages.prefix(limit))
            s.messages.removeFirst(taken.count)
            return taken
        }
    }

    /// Whether there is work: handed-off messages, or a nudge (cleared by this call).
    func hasWork() -> Bool {
        state.withLock { s in
            defer { s.nudged = false }
            return !s.messages.isEmpty || s.nudged
        }
    }

    var isEmpty: Bool { state.withLock { $0.messages.isEmpty } }
}
