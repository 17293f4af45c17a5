import OTPGateCore
import Synchronization

/// Limits failed authentications per client address (`AuthFailureLimit`): each presented key that is malformed or
/// unknown is counted in the store, and once an address is past the limit this instance refuses its requests
/// without looking keys up until the window ends (a key it already knows as valid still works, so a client that
/// shares an address with an attacker keeps working). The count is the store's; only the refusal is cached here.
final class FailedAuthenticationLimiter: Sendable {
    private let counters: any RequestCounters
    /// Client addresses are personal data too: the store counts them under their blind index.
    private let cipher: PersonalDataCipher
    private let clock: any Clock
    let limitPerMinute: Int
    /// Addresses refused until a time; bounded, oldest out first.
    private let refused = Mutex<[String: Timestamp]>([:])
    private let capacity = 10_000

    init(counters: any RequestCounters, cipher: PersonalDataCipher, clock: any Clock, limitPerMinute: Int) {
        self.counters = counters
        self.cipher = cipher
        self.clock = clock
        self.limitPerMinute = limitPerMinute
    }

    /// Whether any address is (or was until lately) refused: when none is, a request need not resolve its address.
    var isRefusingAnyone: Bool { refused.withLock { !$0.isEmpty } }

    /// How long `address` must still wait, if it is refused now.
    func refusal(for address: String) -> Duration? {
        let now = clock.now()
        return refused.withLock { entries in
            guard let until = entries[address] else { return nil }
            if until <= now {
                entries[address] = nil
                return nil
            }
            return until - now
        }
    }

    /// Counts one failure of `address`; returns how long it must wait if this one took it past the limit.
    func recordFailure(of address: String) async throws -> Duration? {
        let now = clock.now()
        let index = cipher.blindIndex(tenantID: "", kind: "client-address", value: address)
        let count = try await counters.incrementCounter(scope: AuthFailureLimit.scope(address: index), window: AuthFailureLimit.window(now))
        guard AuthFailureLimit.isExceeded(count: count, limit: limitPerMinute) else { return nil }
        let until = AuthFailureLimit.windowEnd(now)
        refused.withLock { entries in
            entries = entries.filter { $0.value > now }  // refusals that ran out go, so the set empties again
            if entries.count < capacity { entries[address] = until }
        }
        return until - now
    }
}
