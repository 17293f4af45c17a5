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

    /// The entries, and the order they were stored in: when full, the oldest goes, one entry at a time (a flood of
    /// unknown keys can push out the oldest entries, never empty the whole cache at once).
    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        var order: [[UInt8]] = []
        var head = 0

        mutating func insert(_ hash: [UInt8], _ entry: Entry, capacity: Int) {
            if entries.updateValue(entry, forKey: hash) == nil { order.append(hash) }
            while entries.count > capacity, head < order.count {
                entries.removeValue(forKey: order[head])
                head += 1
            }
            // Drop the consumed prefix now and then, so `order` stays about `capacity` long.
            if head > capacity {
                order.removeFirst(head)
                head = 0
            }
        }
    }

    private let entries = Mutex(State())
    private let ttl: Duration
    private let capacity: Int
    private let clock: any Clock

    init(ttl: Duration, clock: any Clock, capacity: Int = 10_000) {
        self.ttl = ttl
        self.clock = clock
        self.capacity = capacity
    }

    /// A valid principal already cached for this key, without loading anything.
    func cachedPrincipal(forKeyHash hash: [UInt8]) -> Principal? {
        let now = clock.now()
        guard let hit = entries.withLock({ $0.entries[hash] }), hit.loadedAt <= now, now - hit.loadedAt < hit.lifetime else { return nil }
        return hit.principal
    }

    func principal(forKeyHash hash: [UInt8], load: (_ hash: [UInt8]) async throws -> Principal?) async throws -> Principal? {
        let now = clock.now()
        if let hit = entries.withLock({ $0.entries[hash] }), hit.loadedAt <= now, now - hit.loadedAt < hit.lifetime { return hit.principal }
        let principal = try await load(hash)
        // Unknown keys are remembered briefly too, so guessing keys cannot turn into a flood of database reads.
        let lifetime = principal == nil ? min(ttl, .seconds(1)) : ttl
        entries.withLock { state in state.insert(hash, Entry(principal: principal, loadedAt: now, lifetime: lifetime), capacity: capacity) }
        return principal
    }
}
