import Foundation
import Testing

/// Every test that starts a process starts it here.
///
/// Foundation's `Process.run()` on Linux reads 256 bytes past its `/proc/self/fd` buffer once more than about 1,300
/// descriptors are open. AddressSanitizer reports it as a heap-buffer-overflow in `findMaximumOpenFromProcSelfFD`; CI
/// once got a SIGSEGV from it while the unbounded test run held 2,300. `scripts/test.sh` keeps the run near 500; this
/// is the backstop. It waits, up to a minute, until the test process holds fewer than `maximumDescriptors`, and
/// otherwise fails with a message that names the cause instead of crashing.
enum ProcessLaunch {
    static let maximumDescriptors = 1_000

    static func run(_ process: Process, maximum: Int = maximumDescriptors, waitingUpTo wait: Duration = .seconds(60)) throws {
        let deadline = ContinuousClock.now + wait
        var open = openDescriptors()
        while open >= maximum {
            guard ContinuousClock.now < deadline else {
                throw TestFailure(
                    "the test process holds \(open) file descriptors: Foundation's Process.run() overflows its buffer above about 1,300, so it was not started"
                )
            }
            usleep(50_000)
            open = openDescriptors()
        }
        try process.run()
    }

    /// Descriptors open in this process (0 where there is no `/proc`).
    static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }
}

@Suite struct ProcessLaunchTests {
    @Test func aProcessIsNotStartedWhileTooManyDescriptorsAreOpen() throws {
        #expect(ProcessLaunch.openDescriptors() > 2)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        #expect(throws: TestFailure.self) { try ProcessLaunch.run(process, maximum: 3, waitingUpTo: .milliseconds(100)) }
        #expect(process.processIdentifier == 0)
    }
}
