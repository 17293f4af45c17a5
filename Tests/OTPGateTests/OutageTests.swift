import Foundation
import Testing

extension RealProcesses {
    /// PostgreSQL stops under load and comes back: requests get 503 `unavailable` (never a 500, never a hang), readiness
    /// fails, the same process recovers by itself, and no acknowledged verification is lost. The test runs its own
    /// cluster, so stopping it disturbs no other test.
    @Suite(.serialized, .timeLimit(.minutes(10)), .enabled(if: Backend.postgresEnabled, "OTPGATE_TEST_SQLITE_ONLY=1"))
    struct OutageTests {
        static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/postgres-cluster.sh").path

        static func cluster(_ arguments: [String]) throws -> String {
            // posix_spawn and waitpid rather than Foundation's Process, whose exit detection never fired here once the
            // script had left a daemonised PostgreSQL behind; output goes to a file for the same reason.
            let output = try temporaryDirectory().appendingPathComponent("cluster.out").path
            let command = "bash " + ([script] + arguments).map { "'\($0)'" }.joined(separator: " ") + " > '\(output)' 2>/dev/null"
            var pid: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/bash", "-c", command].map { (text: String) in strdup(text) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            guard posix_spawn(&pid, "/bin/bash", nil, nil, argv, environ) == 0 else { throw TestFailure("cannot run postgres-cluster.sh") }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            guard status == 0 else { throw TestFailure("postgres-cluster.sh \(arguments) failed with status \(status)") }
            return try String(contentsOfFile: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        @Test func databaseOutageGives503AndTheProcessRecoversByItself() async throws {
            let started = try Self.cluster(["start"]).split(separator: " ")
            let clusterDir = String(started[0])
            defer { _ = try? Self.cluster(["remove", clusterDir]) }
            let dir = try temporaryDirectory()
            let server = try await OTPGateServerProcess.start(
                directory: dir, database: String(started[1]), environment: ["OTPGATE_DELIVERY": "discard"])
            let key = try #require(server.apiKey)

            // Load from 8 clients for the whole outage; each records what it was told.
            let running = LoadFlag()
            let load = Task {
                await withTaskGroup(of: [(Int, String?, Duration)].self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            var seen: [(Int, String?, Duration)] = []
                            var n = 0
                            while running.value {
                                n += 1
                                let begin = ContinuousClock.now
                                let phone = "+9196\(worker)\(String(format: "%07d", n))"
                                let reply = try? await server.post("/v1/verifications", #"{"to":"\#(phone)","channel":"sms"}"#, key: key)
                                seen.append((reply?.status ?? -1, reply?.json?["id"] as? String, ContinuousClock.now - begin))
                                try? await Task.sleep(for: .milliseconds(20))
                            }
                            return seen
                        }
                    }
                    var all: [(Int, String?, Duration)] = []
                    for await part in group { all += part }
                    return all
                }
            }
            try await waitUntil("a start acknowledged before the outage") {
                try await server.post("/v1/verifications", #"{"to":"+919577777777","channel":"sms"}"#, key: key).status == 201
            }
            _ = try Self.cluster(["stop", clusterDir])
            // Readiness fails while the database is away; liveness stays 200 (the process itself is fine, so an
            // orchestrator must not restart it), and a start gets the problem `unavailable`.
            try await waitUntil("/readyz to answer 503") { try await server.raw("/readyz").status == 503 }
            let notReady = try await server.raw("/readyz")
            let readyProblem = try JSONSerialization.jsonObject(with: Data(notReady.body)) as? [String: Any]
            #expect(readyProblem?["code"] as? String == "unavailable")
            #expect(try await server.raw("/healthz").status == 200)
            let refused = try await server.post("/v1/verifications", #"{"to":"+919588888888","channel":"sms"}"#, key: key)
            #expect(refused.status == 503)
            #expect(refused.json?["code"] as? String == "unavailable")
            #expect(refused.json?["request_id"] as? String != nil)
            #expect(refused.json?["type"] as? String == "urn:otpgate:problem:unavailable")
            #expect(refused.json?["status"] as? Int == 503)
            #expect(refused.json?["retry_after"] == nil)
            _ = try Self.cluster(["restart", clusterDir])

            // The same process serves again once its pool reconnects.
            let deadline = ContinuousClock.now + .seconds(120)
            var recovered = false
            while ContinuousClock.now < deadline {
                if try await server.raw("/readyz").status == 200,
                    try await server.post("/v1/verifications", #"{"to":"+919599999999","channel":"sms"}"#, key: key).status == 201
                {
                    recovered = true
                    break
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            running.value = false
            let outcomes = await load.value
            #expect(recovered, "the server did not recover within 120 s of PostgreSQL's return")

            let statuses = Set(outcomes.map(\.0))
            #expect(statuses.contains(201))
            #expect(statuses.contains(503))
            #expect(statuses.isSubset(of: [201, 503]), "unexpected statuses \(statuses)")
            // The deadline is 5 s; the margin is for a loaded machine, the bound is that nothing hangs.
            #expect(outcomes.allSatisfy { $0.2 < .seconds(20) }, "a request waited far past the 5 s deadline")
            for (_, id, _) in outcomes {
                guard let id else { continue }
                #expect(try await server.get("/v1/verifications/\(id)", key: key).status == 200, "acknowledged \(id) was lost")
            }
            #expect(try await server.stop(signal: SIGTERM) == 0)
        }
    }
}

/// A flag the test flips to stop its load loops.
final class LoadFlag: @unchecked Sendable {
    // Written once by the test task and read by the load tasks; a torn read only delays the stop by one loop.
    private let lock = NSLock()
    private var running = true
    var value: Bool {
        get { lock.withLock { running } }
        set { lock.withLock { running = newValue } }
    }
}
