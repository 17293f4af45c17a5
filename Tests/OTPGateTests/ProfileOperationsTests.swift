import Foundation
import HTTPTypes
import OTPGateCore
import OTPGateProfiles
import Synchronization
import Testing

@testable import OTPGateServer

/// How the profiles behave in operation: sessions shared by instances, the password pool that cannot starve other
/// requests, expired sessions swept.
@Suite(.timeLimit(.minutes(5))) struct ProfileOperationsTests {
    /// A flow can hop between instances on every call: its session and OTP live in the store.
    @Test(arguments: Backend.available) func aFlowMovesBetweenInstances(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        let token = try await h.credential("surepass")
        let other = try await ServerRuntime.make(
            settings: h.runtime.settings, store: h.store,
            dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 7), sender: h.sender, runBackgroundServices: false))
        let clientID = Mutex("")
        try await h.test { (client: TestClient) async throws in
            let created = try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            clientID.withLock { $0 = created.dataString("client_id") ?? "" }
        }
        let id = clientID.withLock { $0 }
        try await Harness.test(runtime: other, apiKey: h.apiKey) { (client: TestClient) async throws in
            #expect(try await client.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(id)"}"#, key: token).status == .ok)
        }
        let code = try await h.lastCode()
        try await h.test { (client: TestClient) async throws in
            // The cooldown started on the other instance holds here.
            #expect(try await client.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(id)"}"#, key: token).status.code == 429)
            #expect(try await client.post("/api/v1/itr/submit-2fa", #"{"client_id":"\#(id)","otp":"\#(code)"}"#, key: token).status == .ok)
        }
        try await Harness.test(runtime: other, apiKey: h.apiKey) { (client: TestClient) async throws in
            #expect(try await client.post("/api/v1/itr/check-credentials", #"{"client_id":"\#(id)"}"#, key: token).status == .ok)
        }
    }

    /// Password hashes run on the pool's own threads: while they are all busy with slow hashes, a native start is
    /// served (it finishes before the hashes do), and checks past the queue limit are refused at once, not queued.
    @Test func thePasswordPoolNeverHoldsUpOtherRequests() async throws {
        let h = try await Harness.make()
        let pool = PasswordCheckPool(threads: 1, queueLimit: 2)
        // A slow hash: 2^16 × 8 × 128 B = 64 MiB, several hundred milliseconds.
        // Made with Python's hashlib.scrypt, so the test does not spend a cooperative thread computing it.
        let slow = "$scrypt$ln=16,r=8,p=1$b3RwZ2F0ZS1zbG93LTE2Yg$dmLjQhslEtiZqRL1/pGgXuVp1J8tZpJBFbFe5JBkBI4"
        let state = PoolOutcomes()
        let checks = (0..<6).map { _ in
            Task {
                do {
                    _ = try await pool.verify("Slow@1234", against: slow)
                    state.record("checked")
                } catch is PasswordCheckPool.Busy {
                    state.record("busy")
                }
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        try await h.test { (client: TestClient) async throws in
            _ = try await client.start()
        }
        #expect(state.all.filter { $0 == "checked" }.count < 3, "a start waited for the password checks")
        for check in checks { try await check.value }
        let all = state.all
        #expect(all.filter { $0 == "checked" }.count == 3)
        #expect(all.filter { $0 == "busy" }.count == 3)
    }

    /// Guessing the mobile on file is limited like any request: generate-otp counts before it compares.
    @Test func mobileGuessesCountAgainstTheCredentialsRequestLimit() async throws {
        let h = try await Harness.make(environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "3"])
        try await h.importRecords()
        let token = try await h.credential("surepass")
        try await h.test { (client: TestClient) async throws in
            let search = try await client.post("/api/v1/ckyc/search", #"{"id_number":"ABCPE1234F","document_type":"PAN"}"#, key: token)
            let searchID = try #require(search.dataString("client_id"))
            var codes: [String] = []
            for guess in 0..<3 {
                let r = try await client.post(
                    "/api/v1/ckyc-v2/generate-otp", #"{"client_id":"\#(searchID)","mobile_number":"900000010\#(guess)"}"#, key: token)
                if case .string(let c)? = r["message_code"] { codes.append(c) }
            }
            #expect(codes == ["mobile_number_not_matched", "mobile_number_not_matched", "rate_limit_exceeded"])
        }
    }

    /// Spent attempts on a CKYC download are not renewed by asking again: 422 until the code expires.
    @Test func aSpentCKYCCodeIsNotReplacedByANewOne() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let token = try await h.credential("surepass")
        try await h.test { (client: TestClient) async throws in
            let search = try await client.post("/api/v1/ckyc/search", #"{"id_number":"ABCPE1234F","document_type":"PAN"}"#, key: token)
            let searchID = try #require(search.dataString("client_id"))
            let body = #"{"client_id":"\#(searchID)","mobile_number":"9000000002"}"#
            let generated = try await client.post("/api/v1/ckyc-v2/generate-otp", body, key: token)
            let downloadID = try #require(generated.dataString("client_id"))
            let code = try await h.lastCode()
            for _ in 0..<5 {
                _ = try await client.post("/api/v1/ckyc-v2/download", #"{"client_id":"\#(downloadID)","otp":"\#(wrongCode(for: code))"}"#, key: token)
            }
            h.clock.advance(.seconds(31))
            let again = try await client.post("/api/v1/ckyc-v2/generate-otp", body, key: token)
            #expect(again.status.code == 422)
            #expect(again["message_code"] == .string("max_attempts_exceeded"))
            h.clock.advance(.seconds(300))
            let fresh = try await client.post("/api/v1/ckyc-v2/generate-otp", body, key: token)
            #expect(fresh.status == .ok)
            #expect(fresh.dataString("client_id") != downloadID)
        }
    }

    /// The store's restart of a session is a compare-and-set: of two restarts that saw the same session, one wins.
    @Test(arguments: Backend.available) func restartingASessionIsACompareAndSet(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let now = h.clock.now()
        func session(_ verification: String) -> ProfileSession {
            ProfileSession(
                id: "kwk_cas", tenantID: h.tenant.id, profile: "kwikid", kind: "itr", recordID: "rec_1", verificationID: verification,
                createdAt: now, expiresAt: now + .seconds(60))
        }
        #expect(try await h.store.replaceSession(session("vrf_a"), expected: nil))
        #expect(try await !h.store.replaceSession(session("vrf_x"), expected: nil))
        #expect(try await h.store.replaceSession(session("vrf_b"), expected: "vrf_a"))
        #expect(try await !h.store.replaceSession(session("vrf_c"), expected: "vrf_a"))
        #expect(try await h.store.session(id: "kwk_cas", tenantID: h.tenant.id)?.verificationID == "vrf_b")
    }

    /// Sessions past their window are deleted by the sweep, on both backends.
    @Test func searchesAndPasswordChecksCountAgainstTheCredentialsRequestLimit() async throws {
        let h = try await Harness.make(environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "3"])
        try await h.importRecords()
        let token = try await h.credential("surepass")
        try await h.test { (client: TestClient) async throws in
            for _ in 0..<3 {
                #expect(try await client.post("/api/v1/ckyc/search", #"{"id_number":"ABCPE1234F","document_type":"PAN"}"#, key: token).status == .ok)
            }
            let limited = try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            #expect(limited.status.code == 429)
            #expect(limited["message_code"] == .string("rate_limit_exceeded"))
            h.clock.advance(.seconds(1))
            #expect(
                try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: token).status == .ok)
        }
    }

    @Test(arguments: Backend.available) func expiredSessionsAreSwept(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        let token = try await h.credential("surepass")
        let clientID = Mutex("")
        try await h.test { (client: TestClient) async throws in
            let created = try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            clientID.withLock { $0 = created.dataString("client_id") ?? "" }
        }
        let id = clientID.withLock { $0 }
        #expect(try await h.store.session(id: id, tenantID: h.tenant.id) != nil)
        _ = try await h.store.sweep(SweepDecider.plan(now: h.clock.now(), retention: .seconds(86_400)))
        #expect(try await h.store.session(id: id, tenantID: h.tenant.id) != nil)
        h.clock.advance(.seconds(1801))
        _ = try await h.store.sweep(SweepDecider.plan(now: h.clock.now(), retention: .seconds(86_400)))
        #expect(try await h.store.session(id: id, tenantID: h.tenant.id) == nil)
    }
}

/// What the pool test's checks ended with.
final class PoolOutcomes: Sendable {
    private let outcomes = Mutex<[String]>([])
    func record(_ outcome: String) { outcomes.withLock { $0.append(outcome) } }
    var all: [String] { outcomes.withLock { $0 } }
}

extension RealProcesses {
    /// `otpgate credentials` and `otpgate records import` as an operator runs them.
    @Suite struct ProfileCommandTests {
        @Test func credentialsAndRecordsFromTheCommandLine() async throws {
            let dir = try temporaryDirectory()
            let db = "sqlite:\(dir.path)/cli.sqlite"
            let tenant = try OTPGateProcess.run(["tenant", "create", "acme", "--json", "--database", db])
            #expect(tenant.status == 0, "\(tenant.stderr)")
            let tenantLine = try #require(tenant.stdout.split(separator: "\n").last.map(String.init))
            let tenantID = try #require(
                try JSONValue(parsing: tenantLine).member("tenant_id").flatMap { if case .string(let s) = $0 { s } else { nil } })

            let created = try OTPGateProcess.run(["credentials", "create", "--tenant", tenantID, "--profile", "surepass", "--json", "--database", db])
            #expect(created.status == 0, "\(created.stderr)")
            let object = try JSONValue(parsing: created.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            guard case .object(let fields) = object else { throw TestFailure("not one JSON object: \(created.stdout)") }
            #expect(Set(fields.keys) == ["credential_id", "profile", "tenant_id", "token"])
            #expect(fields["profile"] == .string("surepass"))
            #expect(fields["tenant_id"] == .string(tenantID))
            guard case .string(let credentialID)? = fields["credential_id"], case .string(let token)? = fields["token"] else {
                throw TestFailure("no id or token")
            }
            #expect(token.split(separator: ".").count == 3)
            let unknown = try OTPGateProcess.run(["credentials", "create", "--tenant", tenantID, "--profile", "acmebank", "--database", db])
            #expect(unknown.status != 0)

            // Eko: a developer key, an access key and the registered initiator; M2P: a client id and secret and its tenant header.
            func createdFields(_ arguments: [String]) throws -> [String: JSONValue] {
                let run = try OTPGateProcess.run(["credentials", "create", "--tenant", tenantID] + arguments + ["--json", "--database", db])
                #expect(run.status == 0, "\(run.stderr)")
                guard case .object(let fields) = try JSONValue(parsing: run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                    throw TestFailure("not one JSON object: \(run.stdout)")
                }
                return fields
            }
            let eko = try createdFields(["--profile", "eko", "--initiator-id", "9962981729"])
            #expect(Set(eko.keys) == ["credential_id", "profile", "tenant_id", "developer_key", "access_key", "initiator_id"])
            #expect(eko["initiator_id"] == .string("9962981729"))
            let m2p = try createdFields(["--profile", "m2p", "--x-tenant-id", "ACME_CORP", "--dual-otp", "different"])
            #expect(Set(m2p.keys) == ["credential_id", "profile", "tenant_id", "client_id", "client_secret", "x_tenant_id", "dual_otp"])
            #expect(m2p["x_tenant_id"] == .string("ACME_CORP"))
            #expect(m2p["client_id"] == m2p["credential_id"])
            #expect(try createdFields(["--profile", "m2p"])["x_tenant_id"] == .string(tenantID))
            let noInitiator = try OTPGateProcess.run(["credentials", "create", "--tenant", tenantID, "--profile", "eko", "--database", db])
            #expect(noInitiator.status != 0)
            #expect(noInitiator.stderr.contains("--initiator-id"))
            let badInitiator = try OTPGateProcess.run(
                ["credentials", "create", "--tenant", tenantID, "--profile", "eko", "--initiator-id", "12345", "--database", db])
            #expect(badInitiator.status != 0)
            let misplaced = try OTPGateProcess.run(
                ["credentials", "create", "--tenant", tenantID, "--profile", "surepass", "--x-tenant-id", "X", "--database", db])
            #expect(misplaced.status != 0)
            let listed = try OTPGateProcess.run(["credentials", "list", "--tenant", tenantID, "--database", db])
            #expect(listed.stdout.contains(credentialID) && listed.stdout.contains("active"))
            #expect(!listed.stdout.contains(token))
            #expect(try OTPGateProcess.run(["credentials", "revoke", credentialID, "--database", db]).status == 0)
            #expect(try OTPGateProcess.run(["credentials", "list", "--tenant", tenantID, "--database", db]).stdout.contains("revoked"))

            let bad = dir.appendingPathComponent("bad.jsonl")
            try (ProfileFixture.lines[0] + "\n{oops\n" + #"{"kind":"itr","keys":{"pan":"123"}}"#).write(to: bad, atomically: true, encoding: .utf8)
            let refused = try OTPGateProcess.run(["records", "import", "--tenant", tenantID, bad.path, "--database", db])
            #expect(refused.status == 65)
            #expect(refused.stderr.contains("bad.jsonl:2: not a JSON object"))
            #expect(refused.stderr.contains("bad.jsonl:3: keys.pan is not a valid PAN"))
            #expect(refused.stderr.contains("nothing was imported"))
            #expect(try OTPGateProcess.run(["records", "count", "--tenant", tenantID, "--database", db]).stdout.contains("itr\t0"))

            let good = dir.appendingPathComponent("good.jsonl")
            try ProfileFixture.jsonl.write(to: good, atomically: true, encoding: .utf8)
            let imported = try OTPGateProcess.run(["records", "import", "--tenant", tenantID, good.path, "--database", db])
            #expect(imported.status == 0, "\(imported.stderr)")
            // Not a terminal: a plain summary, no progress bar.
            #expect(imported.stdout.contains("imported 6 records for \(tenantID)"))
            #expect(!imported.stderr.contains("ETA"))
            // On a terminal (a pseudo-terminal from script(1)): a progress bar with rate and ETA.
            let binary = OTPGateProcess.binary.path
            let onTerminal = try OTPGateProcess.run(
                ["-c", "script -qec '\(binary) records import --tenant \(tenantID) \(good.path) --database \(db)' /dev/null"], executable: "/bin/sh")
            #expect(onTerminal.status == 0, "\(onTerminal.stdout)")
            #expect(onTerminal.stdout.contains("hashing 1 passwords ["))
            #expect(onTerminal.stdout.contains("/s  ETA"))
            let counts = try OTPGateProcess.run(["records", "count", "--tenant", tenantID, "--database", db]).stdout
            #expect(counts.contains("itr\t2") && counts.contains("ckyc\t3") && counts.contains("customer\t1"))
        }
    }
}
