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

    /// Whether the counting malloc is the one the process uses: a new class instance must be counted.
    static var isCounting: Bool {
        final class Probe { var value = 0 }
        let before = now
        let probe = Probe()
        withExtendedLifetime(probe) {}
        return (now - before).allocations > 0
    }
}
