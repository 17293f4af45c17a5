public import OTPGateCore
import Synchronization

/// The in-process hand-off between the engine and this instance's `OutboxWorker` (see `LocalDelivery`), and the
/// worker's alarm: a hand-off or a nudge wakes the worker at once, instead of it polling.
/// Bounded: when it is full, new messages are written unclaimed and reach a worker through the store instead.
public final class LocalDeliveryQueue: LocalDelivery, Sendable {
    private struct State {
        var messages: [OutboxMessage] = []
        var nudged = false
        /// The worker, while it sleeps.
        var sleeper: CheckedContinuation<Void, Never>?
        /// A wake-up that came while nobody slept: the next sleep returns at once.
        var woken = false
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
        state.withLock { s in
            s.messages.append(message)
            return s.sleeper.take()
        }?.resume()
    }

    public func nudge() {
        state.withLock { s in
            s.nudged = true
            return s.sleeper.take()
        }?.resume()
    }

    /// Up to `limit` handed-off messages, oldest first.
    func take(_ limit: Int) -> [OutboxMessage] {
        state.withLock { s in
            let taken = Array(s.messages.prefix(limit))
            s.messages.removeFirst(taken.count)
            return taken
        }
    }

    var isEmpty: Bool { state.withLock { $0.messages.isEmpty } }

    /// Returns when there is local work (a hand-off, or a nudge, which this clears), when `wake()` is called, or
    /// after `timeout`, whichever comes first. One sleeper at a time: the worker. A wake-up may be spurious.
    func sleep(upTo timeout: Duration) async {
        guard timeout > .zero else { return }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self.wake() }
        }
        // Cancellation (the worker's task, or a test's time limit) ends the sleep like a wake-up.
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s in
                    if !s.messages.isEmpty || s.nudged || s.woken { return true }
                    s.sleeper = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            wake()
        }
        timer.cancel()
        state.withLock { s in
            s.nudged = false
            s.woken = false
        }
    }

    /// Ends the current sleep, or the next one if none is under way (on shutdown, or when its timer runs out).
    func wake() {
        let sleeper: CheckedContinuation<Void, Never>? = state.withLock { s in
            guard let sleeper = s.sleeper.take() else {
                s.woken = true
                return nil
            }
            return sleeper
        }
        sleeper?.resume()
    }
}
