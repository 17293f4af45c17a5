import OTPGateCore
import Synchronization

/// A short-lived cache of API key → principal, so authentication does not cost a database read per request.
/// It only ever holds read-mostly data: a revoked key or a changed tenant policy takes effect within `ttl`.
/// Time comes from the injected clock, so tests can show that bound without waiting.
final class PrincipalCache: Sendable {
    private struct Entry {
        let principal: Principal?
        let loadedAt: Timestamp
        let lifetime: Duration
    }

    private let entries = Mutex<[[UInt8]: Entry]>([:])
    private let ttl: Duration
    private let capacity: Int
    private let clock: any Clock

    init(ttl: Duration, clock: any Clock, capacity: Int = 10_000) {
        self.ttl = ttl
        self.clock = clock
        self.capacity = capacity
    }

    func principal(forKeyHash hash: [UInt8], load: (_ hash: [UInt8]) async throws -> Principal?) async throws -> Principal? {
        let now = clock.now()
        if let hit = entries.withLock({ $0[hash] }), hit.loadedAt <= now, now - hit.loadedAt < hit.lifetime { return hit.principal }
        let principal = try await load(hash)
        // Unknown keys are remembered briefly too, so guessing keys cannot turn into a flood of database reads.
        let lifetime = principal == nil ? min(ttl, .seconds(1)) : ttl
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[hash] = Entry(principal: principal, loadedAt: now, lifetime: lifetime)
        }
        return principal
    }
}
