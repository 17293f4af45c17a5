import CSystemRandom
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

/// The system CSPRNG (`getrandom(2)` on Linux, `arc4random_buf` elsewhere), read through `SystemRandomPool`: a start
/// asks for random bytes about a dozen times (ids, the code, nonces), and a system call each was 1.3 % of its CPU samples.
public struct SystemRandomSource: RandomSource {
    public init() {}
    public func bytes(_ count: Int) -> [UInt8] { SystemRandomPool.shared.bytes(count) }
}

/// Bytes from the operating system's CSPRNG, fetched 4 KiB at a time and handed out once each: every byte given
/// out is wiped from the buffer, so a later look at the process's memory cannot recover a code or key already made
/// from it. The server never forks, so no two processes share a buffer. Requests larger than a quarter of the
/// buffer go to the system directly.
public final class SystemRandomPool: Sendable {
    public static let shared = SystemRandomPool()

    private struct Buffer {
        var bytes: [UInt8]
        /// The first byte not yet handed out; `bytes.count` when empty.
        var next: Int
    }

    private let buffer: Mutex<Buffer>
    private let capacity: Int
    private let fill: @Sendable (inout [UInt8]) -> Void

    /// - Parameter fill: overwrites the whole array with fresh random bytes (the system's CSPRNG unless a test
    ///   watches the refills).
    public init(capacity: Int = 4096, fill: @escaping @Sendable (inout [UInt8]) -> Void = SystemRandomPool.systemFill) {
        precondition(capacity >= 64)
        self.capacity = capacity
        self.fill = fill
        buffer = Mutex(Buffer(bytes: [UInt8](repeating: 0, count: capacity), next: capacity))
    }

    public func bytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        if count > capacity / 4 {
            fill(&out)
            return out
        }
        buffer.withLock { buffer in
            if capacity - buffer.next < count {
                fill(&buffer.bytes)
                buffer.next = 0
            }
            let start = buffer.next
            buffer.bytes.withUnsafeMutableBufferPointer { pool in
                out.withUnsafeMutableBufferPointer { target in
                    for index in 0..<count {
                        target[index] = pool[start + index]
                        pool[start + index] = 0
                    }
                }
            }
            buffer.next = start + count
        }
        return out
    }

    /// Fills `bytes` from the kernel's CSPRNG (`getrandom`; a short read after a signal continues where it stopped).
    public static let systemFill: @Sendable (inout [UInt8]) -> Void = { bytes in
        let status = bytes.withUnsafeMutableBytes { otpgate_system_random($0.baseAddress, $0.count) }
        precondition(status == 0, "the kernel refused random bytes")
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
