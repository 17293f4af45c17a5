import Foundation
import OTPGateCore
import Testing

/// The cost-per-request guard of issue 17 that a noisy or different machine cannot fool: `otpgate-allocs` counts the
/// heap allocations of bare requests, starts and approved checks through the real router, engine and SQLite store,
/// one at a time with a fixed clock and seed, and each kind must stay within `tolerance_percent` of the figure in
/// `bench/allocations-baseline.json`.
@Suite struct AllocationBudgetTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func allocationsPerRequestStayWithinTheBaseline() throws {
        let baseline = try JSONParser.parse(Array(try Data(contentsOf: Self.root.appendingPathComponent("bench/allocations-baseline.json"))))
        let tolerance = try #require(baseline.member("tolerance_percent")?.doubleValue)
        let expected = try #require(baseline.member("allocations_per_request"))

        let measured = try Self.run()
        for kind in ["bare", "start", "check"] {
            let limit = try #require(expected.member(kind)?.doubleValue, "the baseline has no \(kind)")
            let count = try #require(measured.member(kind)?.member("allocations_per_request")?.doubleValue, "no \(kind) in the run")
            #expect(
                count <= limit * (1 + tolerance / 100),
                "a \(kind) request makes \(count) heap allocations, more than \(tolerance)% over the baseline's \(limit)")
        }
    }

    /// Runs the built `otpgate-allocs` and parses what it printed.
    static func run() throws -> JSONValue {
        let process = Process()
        process.executableURL = root.appendingPathComponent(".build/debug/otpgate-allocs")
        let output = Pipe()
        process.standardOutput = output
        try ProcessLaunch.run(process)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RunFailure(status: process.terminationStatus) }
        return try JSONParser.parse(Array(data))
    }

    struct RunFailure: Error { let status: Int32 }
}
