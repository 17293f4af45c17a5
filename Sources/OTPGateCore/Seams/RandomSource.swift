import Synchronization

/// Where codes, identifiers and secrets get their randomness. Injected so tests are deterministic;
/// production uses the operating system's CSPRNG.
public protocol RandomSource: Sendable {
    /// `count` uniformly random bytes.
    func bytes(_ count: Int) -> [UInt8]
}

extension RandomSource {
    /// A uniform integer in `0..<upperBound` by rejection sampling, so no value is more likely than another
    /// (a plain `% upperBound` would favour small values).
    public func uniform(below upperBound: UInt64) -> UInt64 {
        precondition(upperBound > 0)
        // Reject the top slice of the 64-bit range that does not divide evenly by upperBound.
        let limit = UInt64.max - (UInt64.max % upperBound)
        while true {
            let value = bytes(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
            if value < limit { return value % upperBound }
        }
    }
}

/// The system CSPRNG (`getrandom(2)` on Linux, `arc4random_buf` on Apple platforms).
public struct SystemRandomSource: RandomSource {
    public init() {}
    public func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var out = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            var word = generator.next()
            for _ in 0..<8 where index < count {
                out[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return out
    }
}

/// SplitMix64 from a seed: the same identifiers, codes and keys on every run, for the tests and the allocation
/// harness (`otpgate-allocs`). Predictable by design: never wired into `serve`.
public final class SeededRandomSource: RandomSource {
    private let state: Mutex<UInt64>
    public init(seed: UInt64) { state = Mutex(seed) }
    public func bytes(_ count: Int) -> [UInt8] {
        state.withLock { s in
            var out: [UInt8] = []
            out.reserveCapacity(count)
            while out.count < count {
                s &+= 0x9E37_79B9_7F4A_7C15
                var z = s
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                for i in 0..<8 where out.count < count { out.append(UInt8(truncatingIfNeeded: z >> (8 * UInt64(i)))) }
            }
            return out
        }
    }
}
