import CAllocationCounter

/// Heap allocations counted by `CAllocationCounter` between two points of the run.
struct AllocationCount {
    let allocations: Int64
    let bytes: Int64

    static var now: AllocationCount {
        let counts = otpgate_allocation_counts_now()
        return AllocationCount(allocations: counts.allocations, bytes: counts.bytes)
    }

    static func - (lhs: AllocationCount, rhs: AllocationCount) -> AllocationCount {
        AllocationCount(allocations: lhs.allocations - rhs.allocations, bytes: lhs.bytes - rhs.bytes)
    }

    /// Whether the counting malloc is the one the process uses: an array the Swift runtime (a shared library) allocates
    /// must be counted.
    static var isCounting: Bool {
        let before = now
        let buffer = probeBuffer(4096 + CommandLine.arguments.count)
        let counted = (now - before).allocations > 0
        return counted && buffer.count > 4096
    }

    @inline(never) private static func probeBuffer(_ count: Int) -> [UInt8] { [UInt8](repeating: 1, count: count) }
}
