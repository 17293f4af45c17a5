import Crypto
import OTPGateCore
import Synchronization
import Testing

/// The buffered system randomness: every byte the kernel gave is handed out once, in order, and wiped when handed out;
/// large requests bypass the buffer; the production pool never repeats itself.
@Suite struct SystemRandomPoolTests {
    /// A fill that writes a running counter (so each byte handed out can be traced to its place in the stream) and
    /// records, at each refill, whether the buffer it overwrites was wiped.
    final class CountingFill: Sendable {
        struct State {
            var next: UInt8 = 1
            var fills = 0
            var sizes: [Int] = []
            var leftovers: [[UInt8]] = []
        }
        let state = Mutex(State())

        func fill(_ bytes: inout [UInt8]) {
            state.withLock { state in
                state.fills += 1
                state.sizes.append(bytes.count)
                state.leftovers.append(bytes)
                for index in bytes.indices {
                    bytes[index] = state.next
                    state.next = state.next == 255 ? 1 : state.next + 1
                }
            }
        }
    }

    @Test func bytesComeOutInStreamOrderAndEachOnlyOnce() {
        let counting = CountingFill()
        let pool = SystemRandomPool(capacity: 64) { counting.fill(&$0) }
        var seen: [UInt8] = []
        for count in [5, 16, 12, 7, 16, 3, 16, 9, 1, 14] { seen += pool.bytes(count) }
        // 99 bytes in requests of at most 16 from 64-byte refills: a request that does not fit the rest of the buffer
        // takes a fresh one, and the rest is dropped, never handed out twice.
        #expect(counting.state.withLock { $0.fills } == 2)
        let first = Array(seen.prefix(59))
        #expect(first == (1...59).map { UInt8($0) })
        let second = Array(seen.dropFirst(59))
        #expect(second == (65...104).map { UInt8($0) })
        #expect(seen.count == 99)
    }

    @Test func handedOutBytesAreWipedFromTheBuffer() {
        let counting = CountingFill()
        let pool = SystemRandomPool(capacity: 64) { counting.fill(&$0) }
        for _ in 0..<4 { _ = pool.bytes(16) }
        _ = pool.bytes(8)  // the buffer is used up: this refills it
        let leftovers = counting.state.withLock { $0.leftovers }
        #expect(leftovers.count == 2)
        #expect(leftovers[1] == [UInt8](repeating: 0, count: 64), "bytes handed out stay readable in the buffer")
    }

    @Test func largeRequestsGoToTheSystemDirectly() {
        let counting = CountingFill()
        let pool = SystemRandomPool(capacity: 64) { counting.fill(&$0) }
        let big = pool.bytes(17)
        #expect(big.count == 17)
        #expect(counting.state.withLock { $0.sizes } == [17])
        #expect(pool.bytes(0) == [])
    }

    @Test func theSystemPoolNeverRepeatsAcrossRefills() {
        // 20,000 ids' worth of 16-byte requests crosses about 80 refills of the 4 KiB buffer.
        let pool = SystemRandomPool()
        var seen = Set<[UInt8]>()
        for _ in 0..<20_000 {
            let bytes = pool.bytes(16)
            #expect(bytes.count == 16)
            seen.insert(bytes)
        }
        #expect(seen.count == 20_000)
        // And the shared pool behind `SystemRandomSource` gives different bytes on each call.
        #expect(SystemRandomSource().bytes(32) != SystemRandomSource().bytes(32))
    }

    @Test func sealsUseTheNonceSourceTheyAreGiven() throws {
        // The cipher takes its GCM nonces from its random source: two seals of one value differ, and each opens.
        let cipher = PersonalDataCipher(dataKey: [UInt8](repeating: 7, count: 32))
        let a = try cipher.seal(Array("+919876543210".utf8), purpose: "destination", rowID: "vrf_x")
        let b = try cipher.seal(Array("+919876543210".utf8), purpose: "destination", rowID: "vrf_x")
        #expect(a != b)
        #expect(try cipher.open(a, purpose: "destination", rowID: "vrf_x") == Array("+919876543210".utf8))
        // A fixed nonce source gives the same sealed bytes twice: the nonce is the source's, not BoringSSL's.
        struct Fixed: RandomSource { func bytes(_ count: Int) -> [UInt8] { [UInt8](repeating: 9, count: count) } }
        let fixed = PersonalDataCipher(dataKey: [UInt8](repeating: 7, count: 32), random: Fixed())
        let c = try fixed.seal([1, 2, 3], purpose: "p", rowID: "r")
        #expect(c == (try fixed.seal([1, 2, 3], purpose: "p", rowID: "r")))
        #expect(Array(c.dropFirst().prefix(12)) == [UInt8](repeating: 9, count: 12))
    }
}
