import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

extension RealProcesses {
    /// The real `otpgate` binary: the CLI, graceful shutdown on SIGTERM, and durability under SIGKILL.
    @Suite(.serialized, .timeLimit(.minutes(10))) struct ProcessTests {
        @Test func tenantAndKeyCommands() async throws {
            let dir = try temporaryDirectory()
            let db = "sqlite:\(dir.path)/cli.sqlite"
            let created = try OTPGateProcess.run(["tenant", "create", "Acme Lending", "--json", "--database", db])
            #expect(created.status == 0)
            let last = try #require(created.stdout.split(separator: "\n").last)
            let json = try JSONDecoder().decode([String: String].self, from: Data(last.utf8))
            let tenantID = try #require(json["tenant_id"])
            let apiKey = try #require(json["api_key"])
            #expect(tenantID.hasPrefix("ten_"))
            #expect(apiKey.hasPrefix("otpg_"))

            let listed = try OTPGateProcess.run(["tenant", "list", "--json", "--database", db])
            #expect(listed.stdout.contains(tenantID))
            #expect(listed.stdout.contains("Acme Lending"))
            #expect(!listed.stdout.contains(apiKey))

            let key = try OTPGateProcess.run(["key", "create", "--tenant", tenantID, "--json", "--database", db])
            let keyJSON = try JSONDecoder().decode([String: String].self, from: Data(try #require(key.stdout.split(separator: "\n").last).utf8))
            let keyID = try #require(keyJSON["key_id"])
            let keys = try OTPGateProcess.run(["key", "list", "--tenant", tenantID, "--database", db])
            #expect(keys.stdout.split(separator: "\n").count == 2)
            #expect(!keys.stdout.contains(try #require(keyJSON["api_key"])))
            #expect(try OTPGateProcess.run(["key", "revoke", keyID, "--database", db]).status == 0)
            #expect(try OTPGateProcess.run(["key", "revoke", keyID, "--database", db]).status != 0)
            #expect(try OTPGateProcess.run(["key", "create", "--tenant", "ten_missing", "--database", db]).status != 0)
            #expect(
                try OTPGateProcess.run(["tenant", "policy", tenantID, "--starts-per-destination", "3", "--database", db]).stdout.contains(
                    #""starts_per_destination":3"#))
            #expect(try OTPGateProcess.run(["tenant", "policy", tenantID, "--failed-checks-before-lock", "500", "--database", db]).status != 0)
            let bad = try OTPGateProcess.run(["tenant", "list", "--database", "mysql://nope"])
            #expect(bad.status != 0)
            #expect(bad.stderr.contains("database URL"))
        }

        @Test func serveBootstrapsADefaultTenantAndStopsGracefullyOnSIGTERM() async throws {
            let dir = try temporaryDirectory()
            let server = try await OTPGateServerProcess.start(directory: dir)
            let key = try #require(server.apiKey)
            let started = try await server.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#, key: key)
            #expect(started.status == 201)
            // The console channel prints the message on stdout.
            try await server.waitForStdout { $0.contains("otpgate.console.message") }
            #expect(server.stdout.contains("+919876543210"))
            // Logs (stderr) never hold the destination, the code or the key.
            #expect(!server.stderr.contains("9876543210"))
            #expect(!server.stderr.contains(key))
            let status = try await server.stop(signal: SIGTERM)
            #expect(status == 0)

            // A second start on the same database does not create another tenant or print a key.
            let again = try await OTPGateServerProcess.start(directory: dir)
            #expect(again.apiKey == nil)
            #expect(try await again.post("/v1/verifications", #"{"to":"+919876543211","channel":"sms"}"#, key: key).status == 201)
            _ = try await again.stop(signal: SIGTERM)
        }

        @Test func noAcknowledgedVerificationIsLostWhenKilledUnderLoad() async throws {
            let dir = try temporaryDirectory()
            let server = try await OTPGateServerProcess.start(directory: dir, environment: ["OTPGATE_DELIVERY": "discard"])
            let key = try #require(server.apiKey)
            let load = StartLoad(server: server, key: key, workers: 16)
            // Kill mid-load, once enough starts were acknowledged that losing any would show, while requests are in flight.
            try await waitUntil("50 acknowledged starts") { load.acknowledged.count >= 50 }
            _ = try await server.stop(signal: SIGKILL)
            let acknowledged = await load.finish()
            #expect(acknowledged.count >= 50)
            #expect(load.otherAnswers.isEmpty, "answers other than 201: \(load.otherAnswers)")
            let restarted = try await OTPGateServerProcess.start(directory: dir, environment: ["OTPGATE_DELIVERY": "discard"])
            var missing = 0
            for id in acknowledged where try await restarted.get("/v1/verifications/\(id)", key: key).status != 200 { missing += 1 }
            #expect(missing == 0, "\(missing) of \(acknowledged.count) acknowledged verifications were lost")
            _ = try await restarted.stop(signal: SIGTERM)
        }

        @Test func templateCommands() async throws {
            let dir = try temporaryDirectory()
            let db = "sqlite:\(dir.path)/templates.sqlite"
            let created = try OTPGateProcess.run(["tenant", "create", "Acme", "--json", "--database", db])
            let line = try #require(created.stdout.split(separator: "\n").last)
            let tenant = try #require(try JSONDecoder().decode([String: String].self, from: Data(line.utf8))["tenant_id"])
            let key = ["--tenant", tenant, "--purpose", "login", "--locale", "hi", "--channel", "sms", "--database", db]
            let set = try OTPGateProcess.run(
                ["template", "set"] + key + ["--body", "{{code}} आपका ओटीपी है", "--dlt-template-id", "1207161234567890123"])
            #expect(set.status == 0)
            #expect(set.stdout.contains("preview (UCS-2, 1 segment(s)):"))
            #expect(set.stdout.contains("123456 आपका ओटीपी है"))
            let refused = try OTPGateProcess.run(["template", "set"] + key + ["--body", "no code here"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("must contain the code"))
            let listed = try OTPGateProcess.run(["template", "list", "--tenant", tenant, "--database", db])
            #expect(listed.stdout.contains("login\thi\tsms dlt=1207161234567890123\t{{code}} आपका ओटीपी है"))
            #expect(try OTPGateProcess.run(["template", "delete"] + key).status == 0)
            #expect(try OTPGateProcess.run(["template", "list", "--tenant", tenant, "--database", db]).stdout.isEmpty)
            #expect(try OTPGateProcess.run(["template", "delete"] + key).status != 0)
        }

        /// `otpgate webhook …` and `otpgate tenant delivery …`: secrets shown once (the webhook's) or never (a gateway
        /// account's), sealed in the database file.
        @Test func webhookAndTenantDeliveryCommands() async throws {
            let dir = try temporaryDirectory()
            let path = "\(dir.path)/hooks.sqlite"
            let db = "sqlite:\(path)"
            let created = try OTPGateProcess.run(["tenant", "create", "Acme", "--json", "--database", db])
            let line = try #require(created.stdout.split(separator: "\n").last)
            let tenant = try #require(try JSONDecoder().decode([String: String].self, from: Data(line.utf8))["tenant_id"])
            let set = try OTPGateProcess.run(
                [
                    "webhook", "set", tenant, "--url", "https://hooks.example.in/otp", "--events", "verification.approved,delivery.failed",
                    "--database", db,
                ])
            #expect(set.status == 0)
            let secret = try #require(set.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
            #expect(secret.hasPrefix("whsec_"))
            let shown = try OTPGateProcess.run(["webhook", "show", tenant, "--database", db])
            #expect(shown.stdout.contains("https://hooks.example.in/otp\tdelivery.failed,verification.approved"))
            #expect(!shown.stdout.contains(secret))
            #expect(try OTPGateProcess.run(["webhook", "set", tenant, "--url", "ftp://x", "--database", db]).stderr.contains("--url"))
            #expect(try OTPGateProcess.run(["webhook", "deliveries", tenant, "--database", db]).status == 0)

            let delivery = try OTPGateProcess.run([
                "tenant", "delivery", tenant, "--sms-sender", "ACMEBK", "--dlt-entity-id", "1101456789012345678", "--sms-provider", "msg91",
                "--msg91-auth-key", "tenant-msg91-key-123", "--database", db,
            ])
            #expect(delivery.status == 0, "\(delivery.stderr)")
            #expect(delivery.stdout.contains("sender=ACMEBK dlt_entity_id=1101456789012345678 provider=msg91 msg91_auth_key=set"))
            #expect(!delivery.stdout.contains("tenant-msg91-key-123"))
            let refused = try OTPGateProcess.run(["tenant", "delivery", tenant, "--sms-sender", "TOO-LONG", "--database", db])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--sms-sender"))
            let file = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(file.range(of: Data("tenant-msg91-key-123".utf8)) == nil)
            #expect(file.range(of: Data(secret.dropFirst(6).utf8)) == nil)
            #expect(try OTPGateProcess.run(["tenant", "delivery", tenant, "--clear", "--database", db]).stdout.contains("cleared"))
            #expect(try OTPGateProcess.run(["webhook", "delete", tenant, "--database", db]).status == 0)
            #expect(try OTPGateProcess.run(["webhook", "show", tenant, "--database", db]).status != 0)
        }

        @Test func abusePolicyAndTestDestinationCommands() async throws {
            let dir = try temporaryDirectory()
            let path = "\(dir.path)/abuse.sqlite"
            let db = "sqlite:\(path)"
            let created = try OTPGateProcess.run(["tenant", "create", "Acme", "--json", "--database", db])
            let line = try #require(created.stdout.split(separator: "\n").last)
            let tenant = try #require(try JSONDecoder().decode([String: String].self, from: Data(line.utf8))["tenant_id"])
            let policy = try OTPGateProcess.run([
                "tenant", "policy", tenant, "--pumping-guard", "off", "--pumping-min-sends", "50", "--sms-per-day", "1000", "--database", db,
            ])
            #expect(policy.status == 0, "\(policy.stderr)")
            for member in [#""pumping_guard":false"#, #""pumping_min_sends":50"#, #""sms_per_day":1000"#] {
                #expect(policy.stdout.contains(member))
            }
            let money = try OTPGateProcess.run(["tenant", "policy", tenant, "--spend-per-day", "500", "--database", db])
            #expect(money.status != 0)
            #expect(money.stderr.contains("OTPGATE_PRICE_TABLE"))

            let add = try OTPGateProcess.run([
                "tenant", "test-destination", "add", tenant, "--to", "+919999900001", "--code", "480913", "--database", db,
            ])
            #expect(add.status == 0, "\(add.stderr)")
            #expect(add.stdout.contains("+91") && !add.stdout.contains("9999900001"))
            let listed = try OTPGateProcess.run(["tenant", "test-destination", "list", tenant, "--database", db])
            #expect(listed.stdout.contains("sms\t+91") && !listed.stdout.contains("480913"))
            let bad = try OTPGateProcess.run(["tenant", "test-destination", "add", tenant, "--to", "+919999900002", "--code", "12", "--database", db])
            #expect(bad.status != 0)
            #expect(bad.stderr.contains("code"))
            let file = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(file.range(of: Data("480913".utf8)) == nil)
            #expect(file.range(of: Data("9999900001".utf8)) == nil)
            #expect(try OTPGateProcess.run(["tenant", "test-destination", "remove", tenant, "--to", "9999900001", "--database", db]).status == 0)
            #expect(try OTPGateProcess.run(["tenant", "test-destination", "remove", tenant, "--to", "9999900001", "--database", db]).status != 0)

            let holds = try OTPGateProcess.run(["abuse", "holds", "--tenant", tenant, "--database", db])
            #expect(holds.status == 0 && holds.stdout.isEmpty)
            let release = try OTPGateProcess.run(["abuse", "release", "--tenant", tenant, "+9170", "--database", db])
            #expect(release.status != 0)
            #expect(release.stderr.contains("no hold"))

            // Each change the commands made is audited as the operator's (`cli`); the refused ones wrote nothing, and
            // with OTPGATE_AUDIT=off nothing is written.
            let key = try OTPGateProcess.run(["key", "create", "--tenant", tenant, "--json", "--database", db])
            let keyLine = try #require(key.stdout.split(separator: "\n").last)
            let keyID = try #require(try JSONDecoder().decode([String: String].self, from: Data(keyLine.utf8))["key_id"])
            #expect(try OTPGateProcess.run(["key", "revoke", keyID, "--database", db]).status == 0)
            let quiet = try OTPGateProcess.run(["key", "create", "--tenant", tenant, "--database", db], environment: ["OTPGATE_AUDIT": "off"])
            #expect(quiet.status == 0)
            let audit = try DatabaseQueue(path: path).read { db in
                try Row.fetchAll(db, sql: "SELECT action, actor FROM audit_entries WHERE tenant_id = ? ORDER BY id", arguments: [tenant])
            }
            #expect(
                audit.map { $0["action"] as String } == [
                    "tenant.created", "settings.policy_changed", "test_destination.added", "test_destination.removed", "api_key.created",
                    "api_key.revoked",
                ])
            #expect(audit.allSatisfy { $0["actor"] == "cli" })
        }

        /// SIGKILL while the worker holds a claimed message it has not handed to the provider yet (the SMTP server holds
        /// its greeting): after a restart, the message goes out once its lease ends, once, and its code works.
        @Test func aMessageClaimedByAKilledProcessIsSentAfterItsLease() async throws {
            let stuck = try await SMTPTestServer.start(["--greeting-delay", "120"])
            let healthy = try await SMTPTestServer.start()
            func environment(_ smtp: SMTPTestServer) -> [String: String] {
                [
                    "OTPGATE_SMTP_URL": "smtp://127.0.0.1:\(smtp.port)?starttls=never", "OTPGATE_SMTP_FROM": "otp@acme.example",
                    "OTPGATE_OUTBOX_LEASE_SECONDS": "5",
                ]
            }
            let dir = try temporaryDirectory()
            let server = try await OTPGateServerProcess.start(directory: dir, environment: environment(stuck))
            let key = try #require(server.apiKey)
            let started = try await server.post("/v1/verifications", #"{"to":"riya@example.com","channel":"email"}"#, key: key)
            #expect(started.status == 201)
            let id = try #require(started.json?["id"] as? String)
            let startedAt = ContinuousClock.now
            try await waitUntil("the worker connected to the SMTP server") { stuck.log.contains("Peer:") }
            _ = try await server.stop(signal: SIGKILL)

            let restarted = try await OTPGateServerProcess.start(directory: dir, environment: environment(healthy))
            let mails = try await healthy.waitForMails(1, within: .seconds(60))
            #expect(ContinuousClock.now - startedAt >= .seconds(5), "sent before the lease ended")
            let code = try #require(
                mails[0].decodedBody.range(of: #"\b[0-9]{6}\b"#, options: .regularExpression).map { String(mails[0].decodedBody[$0]) })
            let shown = try await restarted.get("/v1/verifications/\(id)", key: key)
            let deliveries = try #require(shown.json?["deliveries"] as? [[String: Any]])
            #expect(deliveries.count == 1)
            #expect(deliveries.first?["status"] as? String == "sent")
            #expect(deliveries.first?["attempts"] as? Int == 2)
            #expect(
                try await restarted.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#, key: key).json?["status"] as? String == "approved")
            // Once, and never through the killed process's connection.
            try await Task.sleep(for: .seconds(1))
            #expect(healthy.mails.count == 1)
            #expect(stuck.mails.isEmpty)
            _ = try await restarted.stop(signal: SIGTERM)
        }

        /// SIGTERM under load: the server stops taking requests, finishes those in flight, delivers the message of every
        /// verification it acknowledged, and exits 0.
        @Test func sigtermWithRequestsInFlightDeliversEveryAcknowledgedVerificationAndExitsZero() async throws {
            let dir = try temporaryDirectory()
            let server = try await OTPGateServerProcess.start(directory: dir)
            let key = try #require(server.apiKey)
            let load = StartLoad(server: server, key: key, workers: 16)
            try await waitUntil("30 acknowledged starts") { load.acknowledged.count >= 30 }
            let status = try await server.stop(signal: SIGTERM)
            let acknowledged = await load.finish()
            #expect(status == 0)
            #expect(acknowledged.count >= 30)
            #expect(load.otherAnswers.isEmpty, "answers other than 201: \(load.otherAnswers)")
            let delivered = Set(server.consoleMessages.compactMap { $0["verification_id"] })
            let undelivered = acknowledged.filter { !delivered.contains($0) }
            #expect(undelivered.isEmpty, "\(undelivered.count) of \(acknowledged.count) acknowledged verifications were never delivered")
        }
    }
}

/// Starts to fresh numbers from several workers until the server stops answering (or a bound is reached), recording
/// every acknowledged (201) verification id.
final class StartLoad: Sendable {
    final class IDs: Sendable {
        let list = Mutex<[String]>([])
        let other = Mutex<[Int]>([])
    }
    private let ids = IDs()
    private let task: Task<Void, Never>

    var acknowledged: [String] { ids.list.withLock { $0 } }
    /// Statuses of answers other than 201 with an id: a server under load, or shutting down, owes none.
    var otherAnswers: [Int] { ids.other.withLock { $0 } }

    init(server: OTPGateServerProcess, key: String, workers: Int, maxPerWorker: Int = 5_000) {
        let ids = self.ids
        task = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        for n in 1...maxPerWorker {
                            let phone = "+9197\(String(format: "%02d", worker))\(String(format: "%06d", n))"
                            // A short deadline: once the server is gone the client would retry connecting until it.
                            guard
                                let r = try? await server.post(
                                    "/v1/verifications", #"{"to":"\#(phone)","channel":"sms"}"#, key: key, timeout: .seconds(10))
                            else { return }
                            guard r.status == 201, let id = r.json?["id"] as? String else {
                                ids.other.withLock { $0.append(r.status) }
                                return
                            }
                            ids.list.withLock { $0.append(id) }
                        }
                    }
                }
            }
        }
    }

    /// Waits for every worker to stop and returns the acknowledged ids.
    func finish() async -> [String] {
        await task.value
        return acknowledged
    }
}

/// Runs the built `otpgate` binary.
enum OTPGateProcess {
    static var binary: URL {
        if let override = ProcessInfo.processInfo.environment["OTPGATE_BIN"] { return URL(fileURLWithPath: override) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/otpgate")
    }

    static func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OTPGATE_") }
        env["OTPGATE_MASTER_KEY"] = testMasterKey
        env["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND"] = "100000"
        env.merge(extra) { $1 }
        return env
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static func run(_ arguments: [String], environment extra: [String: String] = [:], executable: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable.map(URL.init(fileURLWithPath:)) ?? binary
        process.arguments = arguments
        process.environment = environment(extra)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try ProcessLaunch.run(process)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// An `otpgate serve` child process on a free port, with its output captured in files.
struct OTPGateServerProcess: Sendable {
    let process: ProcessBox
    let port: Int
    let stdoutPath: String
    let stderrPath: String
    let apiKey: String?

    final class ProcessBox: @unchecked Sendable {
        // Process is not Sendable; this box is only touched to signal and reap the child.
        let process: Process
        init(_ process: Process) { self.process = process }
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    static func start(directory: URL, database: String? = nil, environment: [String: String] = [:]) async throws -> OTPGateServerProcess {
        let suffix = UUID().uuidString.prefix(8)
        let stdoutPath = directory.appendingPathComponent("stdout-\(suffix).log").path
        let stderrPath = directory.appendingPathComponent("stderr-\(suffix).log").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = OTPGateProcess.binary
        process.arguments = ["serve", "--port", "0", "--metrics-port", "0", "--database", database ?? "sqlite:\(directory.path)/otpgate.sqlite"]
        process.environment = OTPGateProcess.environment(environment)
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try ProcessLaunch.run(process)
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            // The public listener's line; the metrics listener (port 0 here too) logs as `otpgate.metrics`.
            let publicLine = log.split(separator: "\n").first { $0.contains("listening on") && !$0.contains("otpgate.metrics") }
            if let line = publicLine, let range = line.range(of: #"listening on 127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                let port = Int(line[range].split(separator: ":").last!)!
                let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
                let key = out.range(of: #"otpg_[a-z2-7]{52}"#, options: .regularExpression).map { String(out[$0]) }
                return OTPGateServerProcess(process: ProcessBox(process), port: port, stdoutPath: stdoutPath, stderrPath: stderrPath, apiKey: key)
            }
            if !process.isRunning { throw TestFailure("otpgate serve exited: \(log)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw TestFailure("otpgate serve did not start listening within 120 s")
    }

    func waitForStdout(_ condition: @escaping (String) -> Bool) async throws {
        try await waitUntil("expected output on stdout") { condition(stdout) }
    }

    /// Sends `signal` and waits for the process to exit, returning its exit status.
    func stop(signal: Int32) async throws -> Int32 {
        kill(process.process.processIdentifier, signal)
        let deadline = ContinuousClock.now + .seconds(60)
        while process.process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.process.isRunning {
            kill(process.process.processIdentifier, SIGKILL)
            throw TestFailure("otpgate did not exit within 60 s of signal \(signal)")
        }
        return process.process.terminationStatus
    }

    struct Reply {
        let status: Int
        let json: [String: Any]?
    }

    func post(_ path: String, _ body: String, key: String, timeout: TimeAmount = .seconds(30)) async throws -> Reply {
        try await send(.POST, path, body: body, key: key, timeout: timeout)
    }

    func get(_ path: String, key: String) async throws -> Reply {
        try await send(.GET, path, body: nil, key: key)
    }

    /// The raw body of an unauthenticated GET.
    func raw(_ path: String) async throws -> (status: Int, body: [UInt8]) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), Array(bytes.readableBytesView))
    }

    /// The console messages this instance printed, as decoded JSON lines.
    var consoleMessages: [[String: String]] {
        stdout.split(separator: "\n").compactMap { line in
            guard line.contains("otpgate.console.message") else { return nil }
            return try? JSONDecoder().decode([String: String].self, from: Data(line.utf8))
        }
    }

    private func send(_ method: HTTPMethod, _ path: String, body: String?, key: String, timeout: TimeAmount = .seconds(30)) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]
        return Reply(status: Int(response.status.code), json: json)
    }
}
