import Foundation
import HTTPTypes
import Logging
import OTPGateCore
import OTPGateDelivery
import OTPGateServer
import Synchronization

/// `otpgate-allocs`: heap allocations per request, the CI guard of issue 17 that a noisy or different machine
/// cannot fool. One process, one request at a time, a fixed clock and seeded randomness, a fresh SQLite database:
/// bare-route requests, starts and approved checks go through the real router (middleware, authentication, handlers,
/// engine, store) after a warm-up, and the allocations of each batch are counted by the counting malloc in
/// `CAllocationCounter`. Prints one JSON object; `AllocationBudgetTests` compares it with
/// `bench/allocations-baseline.json`.
///
/// Usage: otpgate-allocs [--requests N] [--warmup N]
@main struct AllocationRun {
    static func main() async throws {
        var requests = 200
        var warmup = 50
        var arguments = CommandLine.arguments.dropFirst()
        while let flag = arguments.popFirst() {
            guard let value = arguments.popFirst().flatMap(Int.init), value > 0 else { fail("usage: otpgate-allocs [--requests N] [--warmup N]") }
            switch flag {
            case "--requests": requests = value
            case "--warmup": warmup = value
            default: fail("unknown option \(flag)")
            }
        }
        guard AllocationCount.isCounting else { fail("the counting malloc is not in use: allocations cannot be counted") }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("otpgate-allocs-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try await Workloads(directory: directory)

        // Everything runs once before counting: caches, prepared statements and the runtime's own first-use work.
        try await run.batch(warmup, from: 0)

        let measured = try await run.batch(requests, from: warmup)
        var lines: [String] = []
        for (name, count) in measured {
            let perRequest = Double(count.allocations) / Double(requests)
            let bytes = Double(count.bytes) / Double(requests)
            lines.append(#"  "\#(name)": {"allocations_per_request": \#(String(format: "%.1f", perRequest)), "bytes_per_request": \#(Int(bytes))}"#)
        }
        print("{\n  \"requests\": \(requests),\n" + lines.joined(separator: ",\n") + "\n}")
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("otpgate-allocs: \(message)\n".utf8))
        exit(2)
    }
}

/// The three request kinds, on one runtime.
struct Workloads {
    let client: InProcessClient
    let apiKey: String
    let runtime: ServerRuntime
    let sender: CodeRecorder

    init(directory: URL) async throws {
        let settings = try ServerSettings(environment: [
            "OTPGATE_DATABASE_URL": "sqlite:\(directory.path)/allocs.sqlite",
            "OTPGATE_MASTER_KEY": String(repeating: "ab", count: 32),
            // As the benchmark runs: no per-key limit in the way, no pumping guard (these starts are checked anyway).
            "OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "1000000", "OTPGATE_POLICY_PUMPING_GUARD": "off",
            "OTPGATE_BENCH_BARE_ROUTE": "on",
        ])
        let store = try ServerRuntime.openStore(settings)
        try await store.migrate()
        let clock = FixedClock()
        let random = SeededRandomSource(seed: 17)
        sender = CodeRecorder()
        var logger = Logger(label: "otpgate-allocs")
        logger.logLevel = .warning
        runtime = try await ServerRuntime.make(
            settings: settings, store: store,
            dependencies: ServerDependencies(clock: clock, random: random, sender: sender, logger: logger, runBackgroundServices: false))
        apiKey = try await TenantAdmin(store: store, clock: clock, random: random, audit: settings.cliAuditActor).createTenant(name: "allocs").apiKey
        client = InProcessClient(router: runtime.buildRouter(), logger: logger)
    }

    /// `count` bare requests, `count` starts (to new numbers from `first`) and `count` approved checks of those starts,
    /// each kind's allocations counted on their own. Delivering the codes in between is not counted.
    @discardableResult
    func batch(_ count: Int, from first: Int) async throws -> [(String, AllocationCount)] {
        func body(_ n: Int) -> String { #"{"to":"+91\#(9_000_000_000 + n)","channel":"sms"}"# }

        var before = AllocationCount.now
        for n in first..<(first + count) {
            let answer = try await client.post("/bench/bare", body(n), key: nil)
            try expect(answer, .ok, "bare")
        }
        let bare = AllocationCount.now - before

        var ids: [String] = []
        ids.reserveCapacity(count)
        before = AllocationCount.now
        for n in first..<(first + count) {
            let answer = try await client.post("/v1/verifications", body(n), key: apiKey)
            try expect(answer, .created, "start")
            ids.append(try Self.field("id", of: answer))
        }
        let start = AllocationCount.now - before

        while await runtime.outboxWorker.drainOnce() > 0 {}
        let checks = try ids.map { id in
            guard let code = sender.code(for: id) else { throw Failure("no code was delivered for \(id)") }
            return (id, #"{"code":"\#(code)"}"#)
        }
        before = AllocationCount.now
        for (id, json) in checks {
            let answer = try await client.post("/v1/verifications/\(id)/check", json, key: apiKey)
            try expect(answer, .ok, "check")
            guard try Self.field("status", of: answer) == "approved" else { throw Failure("a check was not approved") }
        }
        let check = AllocationCount.now - before
        return [("bare", bare), ("start", start), ("check", check)]
    }

    func expect(_ answer: InProcessClient.Answer, _ status: HTTPResponse.Status, _ what: String) throws {
        guard answer.status == status else {
            throw Failure("a \(what) answered \(answer.status.code): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
        }
    }

    static func field(_ name: String, of answer: InProcessClient.Answer) throws -> String {
        guard case .object(let object) = try JSONParser.parse(answer.body), case .string(let value)? = object[name] else {
            throw Failure("an answer has no \(name)")
        }
        return value
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The same instant for every request: nothing the run counts depends on time passing.
struct FixedClock: OTPGateCore.Clock {
    func now() -> Timestamp { Timestamp(seconds: 1_800_000_000) }
}

/// The sender: keeps each verification's code for its check, and sends nothing.
final class CodeRecorder: MessageSender {
    let name = "allocs"
    private let codes = Mutex<[String: String]>([:])
    func send(_ message: OutgoingMessage) async throws -> SendReceipt {
        let code = message.text.split(separator: " ").first.map(String.init) ?? ""
        codes.withLock { $0[message.verificationID] = code }
        return SendReceipt(providerMessageID: "allocs-\(message.messageID)")
    }
    func code(for verificationID: String) -> String? { codes.withLock { $0[verificationID] } }
}
