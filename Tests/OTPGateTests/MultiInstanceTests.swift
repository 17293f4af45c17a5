import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

extension RealProcesses {
    /// Two `otpgate serve` processes on one PostgreSQL database, driven over HTTP: every guarantee holds across them.
    @Suite(.serialized, .timeLimit(.minutes(10)), .enabled(if: Backend.postgresEnabled, "OTPGATE_TEST_SQLITE_ONLY=1"))
    struct MultiInstanceTests {
        /// A generous PostgreSQL deadline, so a slow CI machine cannot turn into 503s that break the exact counts.
        static let environment = ["OTPGATE_POSTGRES_TIMEOUT_SECONDS": "120"]

        /// Two instances on a fresh schema; the first creates the default tenant and prints its key.
        static func pair(_ extra: [String: String] = [:]) async throws -> (a: OTPGateServerProcess, b: OTPGateServerProcess, key: String) {
            let dir = try temporaryDirectory()
            let database = try await Backend.postgres.freshDatabaseURL(in: dir)
            let env = environment.merging(extra) { $1 }
            let a = try await OTPGateServerProcess.start(directory: dir, database: database, environment: env)
            let b = try await OTPGateServerProcess.start(directory: dir, database: database, environment: env)
            let key = try #require(a.apiKey)
            #expect(b.apiKey == nil)
            // The start-up line says how the database connection is protected.
            #expect(a.stderr.contains(#""database_tls":"no TLS (sslmode=disable)""#))
            return (a, b, key)
        }

        func code(for id: String, in servers: [OTPGateServerProcess]) async throws -> String {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                for server in servers {
                    if let text = server.consoleMessages.last(where: { $0["verification_id"] == id })?["text"] {
                        return String(text.prefix { $0 != " " })
                    }
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw TestFailure("no console message for \(id)")
        }

        @Test func concurrentWrongChecksAcrossInstancesCountExactlyMaxAttempts() async throws {
            let (a, b, key) = try await Self.pair()
            let started = try await a.post("/v1/verifications", #"{"to":"+919876500001","channel":"sms"}"#, key: key)
            let id = try #require(started.json?["id"] as? String)
            let code = try await code(for: id, in: [a, b])
            let wrong = code == "000000" ? "111111" : "000000"
            let statuses = await withTaskGroup(of: Int.self) { group in
                for i in 0..<100 {
                    group.addTask {
                        let server = i % 2 == 0 ? a : b
                        return (try? await server.post("/v1/verifications/\(id)/check", #"{"code":"\#(wrong)"}"#, key: key).status) ?? -1
                    }
                }
                var all: [Int] = []
                for await status in group { all.append(status) }
                return all
            }
            #expect(statuses.filter { $0 == 422 }.count == 5)
            #expect(statuses.filter { $0 == 429 }.count == 95)
            #expect(try await b.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#, key: key).status == 429)
            #expect(try await a.get("/v1/verifications/\(id)", key: key).json?["attempts_remaining"] as? Int == 0)
            _ = try await a.stop(signal: SIGTERM)
            _ = try await b.stop(signal: SIGTERM)
        }

        @Test func concurrentStartsAcrossInstancesAdmitExactlyTheLimit() async throws {
            let (a, b, key) = try await Self.pair()
            let statuses = await withTaskGroup(of: Int.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        let server = i % 2 == 0 ? a : b
                        return (try? await server.post("/v1/verifications", #"{"to":"+919876500002","channel":"sms"}"#, key: key).status) ?? -1
                    }
                }
                var all: [Int] = []
                for await status in group { all.append(status) }
                return all
            }
            #expect(statuses.filter { $0 == 201 }.count == 5)
            #expect(statuses.filter { $0 == 429 }.count == 35)
            _ = try await a.stop(signal: SIGTERM)
            _ = try await b.stop(signal: SIGTERM)
        }

        /// One client's starts through both instances count against one limit.
        @Test func aClientsStartsAcrossInstancesShareItsLimit() async throws {
            let (a, b, key) = try await Self.pair(["OTPGATE_POLICY_STARTS_PER_CLIENT_IP": "6"])
            let statuses = await withTaskGroup(of: Int.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        let server = i % 2 == 0 ? a : b
                        let body = #"{"to":"+91987651\#(String(format: "%04d", i))","channel":"sms","client_ip":"203.0.113.9"}"#
                        return (try? await server.post("/v1/verifications", body, key: key).status) ?? -1
                    }
                }
                var all: [Int] = []
                for await status in group { all.append(status) }
                return all
            }
            #expect(statuses.filter { $0 == 201 }.count == 6)
            #expect(statuses.filter { $0 == 429 }.count == 14)
            _ = try await a.stop(signal: SIGTERM)
            _ = try await b.stop(signal: SIGTERM)
        }

        /// Issue 16's synthetic attack on two instances: the counts and the hold are the store's, so exactly the configured
        /// volume of unanswered sends goes out, and both instances list and honour the one hold.
        @Test func thePumpingGuardsCountsAndHoldAreSharedByBothInstances() async throws {
            let (a, b, key) = try await Self.pair(["OTPGATE_POLICY_PUMPING_MIN_SENDS": "20"])
            let statuses = await withTaskGroup(of: Int.self) { group in
                for i in 0..<60 {
                    group.addTask {
                        let server = i % 2 == 0 ? a : b
                        let body = #"{"to":"+91700000\#(String(format: "%04d", i))","channel":"sms"}"#
                        return (try? await server.post("/v1/verifications", body, key: key).status) ?? -1
                    }
                }
                var all: [Int] = []
                for await status in group { all.append(status) }
                return all
            }
            #expect(statuses.filter { $0 == 201 }.count == 20)
            #expect(statuses.filter { $0 == 429 }.count == 40)
            for server in [a, b] {
                let holds = try await server.get("/v1/abuse/holds", key: key)
                let listed = holds.json?["holds"] as? [[String: Any]]
                #expect(listed?.count == 1)
                #expect(listed?.first?["prefix"] as? String == "+9170")
                // The counts when the hold was written: at least the admitted 20; starts that tripped it at the same moment
                // on both instances, before the hold existed, count too (how many depends on the interleaving).
                #expect((20...60).contains(listed?.first?["sends"] as? Int ?? 0))
                let again = try await server.post("/v1/verifications", #"{"to":"+917000009999","channel":"sms"}"#, key: key)
                #expect(again.status == 429)
            }
            // Another prefix is untouched.
            #expect(try await b.post("/v1/verifications", #"{"to":"+919800009999","channel":"sms"}"#, key: key).status == 201)
            _ = try await a.stop(signal: SIGTERM)
            _ = try await b.stop(signal: SIGTERM)
        }

        @Test func tokensJWKSAndTheOutboxAreSharedByBothInstances() async throws {
            let (a, b, key) = try await Self.pair()
            // (d) both publish the same JWKS.
            let jwksA = try await a.raw("/.well-known/jwks.json")
            let jwksB = try await b.raw("/.well-known/jwks.json")
            #expect(jwksA.status == 200)
            #expect(jwksA.body == jwksB.body)

            // (c) a token issued by A and consumed through A is refused by B; B verified it before.
            let started = try await a.post("/v1/verifications", #"{"to":"+919876500003","channel":"sms"}"#, key: key)
            let id = try #require(started.json?["id"] as? String)
            let approved = try await b.post("/v1/verifications/\(id)/check", #"{"code":"\#(try await code(for: id, in: [a, b]))"}"#, key: key)
            let token = try #require(approved.json?["token"] as? String)
            #expect(try await b.post("/v1/tokens/verify", #"{"token":"\#(token)"}"#, key: key).json?["valid"] as? Bool == true)
            #expect(try await a.post("/v1/tokens/verify", #"{"token":"\#(token)","consume":true}"#, key: key).json?["valid"] as? Bool == true)
            let again = try await b.post("/v1/tokens/verify", #"{"token":"\#(token)","consume":true}"#, key: key)
            #expect(again.json?["valid"] as? Bool == false)
            #expect(again.json?["reason"] as? String == "already_used")

            // (e) every outbox message is delivered exactly once, whichever instance took the request.
            var ids: Set<String> = [id]
            for i in 0..<40 {
                let server = i % 2 == 0 ? a : b
                let r = try await server.post(
                    "/v1/verifications", #"{"to":"+91987650\#(String(format: "%04d", 100 + i))","channel":"sms"}"#, key: key)
                ids.insert(try #require(r.json?["id"] as? String))
            }
            let deadline = ContinuousClock.now + .seconds(60)
            var delivered: [String] = []
            while ContinuousClock.now < deadline {
                delivered = (a.consoleMessages + b.consoleMessages).compactMap { $0["message_id"] }
                if Set(delivered.map { String($0.prefix { $0 != "." }) }) == ids { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(Set(delivered.map { String($0.prefix { $0 != "." }) }) == ids)
            #expect(delivered.count == Set(delivered).count, "a message was delivered twice")
            _ = try await a.stop(signal: SIGTERM)
            _ = try await b.stop(signal: SIGTERM)
        }

        /// Two instances started at the same moment on one new database: the migrations run once (advisory lock), one
        /// default tenant and one key are created and printed by exactly one of them, and both adopt the same secrets
        /// (the signing key and the code-hashing secret).
        @Test func twoInstancesStartingAtOnceOnANewDatabaseCreateEverythingOnce() async throws {
            let dir = try temporaryDirectory()
            let database = try await Backend.postgres.freshDatabaseURL(in: dir)
            async let first = OTPGateServerProcess.start(directory: dir, database: database, environment: Self.environment)
            async let second = OTPGateServerProcess.start(directory: dir, database: database, environment: Self.environment)
            let (a, b) = try await (first, second)
            let keys = [a.apiKey, b.apiKey].compactMap { $0 }
            #expect(keys.count == 1, "expected exactly one instance to print the bootstrap key, got \(keys.count)")
            let key = try #require(keys.first)

            let tenants = try OTPGateProcess.run(["tenant", "list", "--json", "--database", database])
            #expect(tenants.status == 0)
            #expect(tenants.stdout.components(separatedBy: "ten_").count - 1 == 1, "\(tenants.stdout)")

            let jwksA = try await a.raw("/.well-known/jwks.json")
            #expect(jwksA.body == (try await b.raw("/.well-known/jwks.json")).body)
            // A code hashed by A is checked by B: one code-hashing secret.
            let started = try await a.post("/v1/verifications", #"{"to":"+919876500009","channel":"sms"}"#, key: key)
            let id = try #require(started.json?["id"] as? String)
            let approved = try await b.post("/v1/verifications/\(id)/check", #"{"code":"\#(try await code(for: id, in: [a, b]))"}"#, key: key)
            #expect(approved.status == 200)
            _ = try await a.stop(signal: SIGTERM)
            _ = try await b.stop(signal: SIGTERM)
        }
    }
}
