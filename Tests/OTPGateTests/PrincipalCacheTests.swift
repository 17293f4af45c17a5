import OTPGateCore
import Synchronization
import Testing

@testable import OTPGateNativeAPI

/// The API-key cache evicts entry by entry (issue 12): a flood of unknown keys pushes out the oldest entries one at
/// a time and never empties the cache, so known keys keep being answered without a store lookup.
@Suite struct PrincipalCacheTests {
    @Test func aFullCacheEvictsItsOldestEntryNotEverything() async throws {
        let cache = PrincipalCache(ttl: .seconds(60), clock: TestClock(), capacity: 3)
        let loads = Mutex<[UInt8]>([])
        let tenant = Tenant(id: "ten_a", name: "a", createdAt: Timestamp(milliseconds: 0), policy: PolicyOverrides())
        func look(_ n: UInt8) async throws -> Principal? {
            try await cache.principal(forKeyHash: [n]) { hash in
                loads.withLock { $0.append(hash[0]) }
                return hash[0] < 100 ? Principal(tenant: tenant, keyID: "key_\(hash[0])") : nil
            }
        }
        for n: UInt8 in [1, 2, 3] { _ = try await look(n) }
        // An unknown key arrives while the cache is full: only key 1, the oldest, goes.
        #expect(try await look(200) == nil)
        #expect(loads.withLock { $0 } == [1, 2, 3, 200])
        _ = try await look(2)
        _ = try await look(3)
        #expect(loads.withLock { $0 } == [1, 2, 3, 200], "keys 2 and 3 were evicted with key 1")
        _ = try await look(1)
        #expect(loads.withLock { $0 } == [1, 2, 3, 200, 1])
        // Many unknown keys later, the cache still holds three entries and answers them without loading.
        for n: UInt8 in 201...250 { _ = try await look(n) }
        let before = loads.withLock { $0.count }
        for n: UInt8 in 248...250 { _ = try await look(n) }
        #expect(loads.withLock { $0.count } == before)
    }
}
