import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OTPGateCore
import Testing

extension RealProcesses {
    /// No code, API key, token, destination, context or reference reaches a log line or a metric (issue 12): a full
    /// scenario against a real `otpgate serve` logging at `trace`, then every line of stderr and the metrics
    /// listener's page are searched for each value. Only stdout, the development console channel, may carry them.
    @Suite(.serialized, .timeLimit(.minutes(5))) struct LogLeakTests {
        @Test func noSecretOrDestinationReachesALogLineOrAMetric() async throws {
            let dir = try temporaryDirectory()
            let server = try await OTPGateServerProcess.start(
                directory: dir, environment: ["OTPGATE_LOG_LEVEL": "trace", "OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS": "0"])
            let key = try #require(server.apiKey)
            let phone = "+919812345670"
            let email = "leak.test.person@example.com"
            let context = "ABCPE1234F"
            let reference = "ref-secret-778899"

            let sms = try await server.post(
                "/v1/verifications",
                #"{"to":"\#(phone)","channel":"sms","code_length":10,"reference":"\#(reference)","context":{"pan":"\#(context)","amount":1.50}}"#,
                key: key)
            #expect(sms.status == 201)
            let smsID = try #require(sms.json?["id"] as? String)
            let mail = try await server.post("/v1/verifications", #"{"to":"\#(email)","channel":"email","code_length":10}"#, key: key)
            let mailID = try #require(mail.json?["id"] as? String)
            try await server.waitForStdout { $0.contains(smsID) && $0.contains(mailID) }
            func code(_ id: String) throws -> String {
                let message = try #require(server.consoleMessages.last { $0["verification_id"] == id })
                return String(try #require(message["text"]).prefix { $0.isNumber })
            }
            let smsCode = try code(smsID)
            let firstMailCode = try code(mailID)
            #expect(smsCode.count == 10)

            // A wrong code, the right one, the token introspected and consumed; a resend and a cancel.
            let wrong = String(smsCode.map { $0 == "9" ? "0" : Character(String(($0.wholeNumberValue ?? 0) + 1)) })
            #expect(try await server.post("/v1/verifications/\(smsID)/check", #"{"code":"\#(wrong)"}"#, key: key).status == 422)
            let approved = try await server.post("/v1/verifications/\(smsID)/check", #"{"code":"\#(smsCode)"}"#, key: key)
            let token = try #require(approved.json?["token"] as? String)
            #expect(try await server.post("/v1/tokens/verify", #"{"token":"\#(token)","consume":true}"#, key: key).status == 200)
            #expect(try await server.post("/v1/verifications/\(mailID)/resend", "{}", key: key).status == 200)
            try await server.waitForStdout { $0.components(separatedBy: mailID).count > 2 }
            let secondMailCode = try code(mailID)
            #expect(try await server.post("/v1/verifications/\(mailID)/cancel", "{}", key: key).status == 200)

            // Refusals that carry the values in their requests: an unknown key, a body that is not JSON, a bad number.
            let unknownKey = "otpg_" + String(repeating: "q", count: 52)
            #expect(try await server.post("/v1/verifications", #"{"to":"\#(phone)","channel":"sms"}"#, key: unknownKey).status == 401)
            #expect(try await server.post("/v1/verifications", #"{"to":"\#(phone)","channel":"sms""#, key: key).status == 400)
            #expect(try await server.post("/v1/verifications", #"{"to":"\#(email)","channel":"sms"}"#, key: key).status == 422)

            let metrics = try await server.scrapeMetrics()
            #expect(metrics.contains("otpgate_verifications_approved_total"))
            #expect(try await server.stop(signal: SIGTERM) == 0)

            let secrets = [
                "the API key": key, "the unknown key": unknownKey, "the sms code": smsCode, "the first email code": firstMailCode,
                "the second email code": secondMailCode, "the wrong code": wrong, "the token": token,
                "the token's signature": String(token.split(separator: ".").last ?? ""), "the phone number": phone,
                "the national number": String(phone.dropFirst(3)), "the email address": email, "the email's local part": "leak.test.person",
                "the context": context, "the reference": reference,
            ]
            let logs = server.stderr
            #expect(logs.split(separator: "\n").count > 20, "the scenario logged too little to show anything")
            #expect(logs.contains(#""trace""#) || logs.contains(#""debug""#), "trace logging was not on")
            for (what, value) in secrets {
                #expect(!logs.contains(value), "\(what) appears in a log line")
                #expect(!metrics.contains(value), "\(what) appears in the metrics")
            }
            // The console channel is where they may go, and did (so the search above looked for real values).
            #expect(server.stdout.contains(smsCode))
            #expect(server.stdout.contains(email))
        }

        /// The vendor profiles log no PAN, portal password, credential token, session id, code or AccessToken either.
        @Test func theVendorProfilesLogNoSecret() async throws {
            let dir = try temporaryDirectory()
            let db = "sqlite:\(dir.path)/otpgate.sqlite"
            let server = try await OTPGateServerProcess.start(directory: dir, environment: ["OTPGATE_LOG_LEVEL": "trace"])
            let tenants = try OTPGateProcess.run(["tenant", "list", "--json", "--database", db])
            let tenantID = try #require(
                tenants.stdout.range(of: #"ten_[a-z2-7]{26}"#, options: .regularExpression).map { String(tenants.stdout[$0]) })
            let file = dir.appendingPathComponent("records.jsonl")
            try ProfileFixture.jsonl.write(to: file, atomically: true, encoding: .utf8)
            #expect(try OTPGateProcess.run(["records", "import", "--tenant", tenantID, file.path, "--database", db]).status == 0)
            func credential(_ profile: String) throws -> String {
                let out = try OTPGateProcess.run(["credentials", "create", "--tenant", tenantID, "--profile", profile, "--json", "--database", db])
                guard case .string(let token)? = try JSONValue(parsing: out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).member("token")
                else { throw TestFailure("no token: \(out.stderr)") }
                return token
            }
            let surepass = try credential("surepass")
            let kwikid = try credential("kwikid")
            func lastCode() async throws -> String {
                let count = server.consoleMessages.count
                try await server.waitForStdout { _ in server.consoleMessages.count >= count }
                return String(try #require(server.consoleMessages.last?["text"]).prefix { $0.isNumber })
            }

            let created = try await server.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: surepass)
            let clientID = try #require((created.json?["data"] as? [String: Any])?["client_id"] as? String)
            let before = server.consoleMessages.count
            #expect(try await server.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(clientID)"}"#, key: surepass).status == 200)
            try await server.waitForStdout { _ in server.consoleMessages.count > before }
            let code = try await lastCode()
            #expect(try await server.post("/api/v1/itr/submit-2fa", #"{"client_id":"\#(clientID)","otp":"\#(code)"}"#, key: surepass).status == 200)
            #expect(
                try await server.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Wrong@999"}"#, key: surepass).status == 422)
            #expect(try await server.post("/api/v1/itr/get-profile-details", #"{"client_id":"\#(clientID)"}"#, key: surepass).status == 200)
            let search = try await server.post("/api/v1/ckyc/search", #"{"id_number":"ABCPE1234F","document_type":"PAN"}"#, key: surepass)
            let searchID = try #require((search.json?["data"] as? [String: Any])?["client_id"] as? String)
            let beforeKwik = server.consoleMessages.count
            #expect(
                try await server.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"Portal@123"}"#, key: kwikid).status == 200)
            try await server.waitForStdout { _ in server.consoleMessages.count > beforeKwik }
            let kwikCode = try await lastCode()
            let verified = try await server.post("/verification/v2/itr/submit_otp", #"{"pan":"ABCPE1234F","otp":"\#(kwikCode)"}"#, key: kwikid)
            let access = try #require(verified.json?["AccessToken"] as? String)
            #expect(try await server.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F"}"#, key: "bogus-\(kwikid.prefix(20))").status == 401)
            #expect(try await server.stop(signal: SIGTERM) == 0)

            let secrets = [
                "the PAN": "ABCPE1234F", "the PAN in lower case": "abcpe1234f", "the portal password": "Portal@123",
                "the wrong password": "Wrong@999",
                "the Surepass token": surepass, "the Surepass token's signature": String(surepass.split(separator: ".").last ?? ""),
                "the KwikID token": kwikid, "the client_id": clientID, "the CKYC client_id": searchID, "the code": code,
                "the KwikID code": kwikCode, "the AccessToken": access, "the mobile": "9000000001", "the CKYC number": ProfileFixture.ckyc,
                "the name": "Asha Example",
            ]
            let logs = server.stderr
            #expect(logs.split(separator: "\n").count > 10)
            for (what, value) in secrets { #expect(!logs.contains(value), "\(what) appears in a log line") }
            #expect(server.stdout.contains(code))
        }
    }
}

extension OTPGateServerProcess {
    /// `GET /metrics` on this instance's metrics listener, found from its `otpgate.metrics` start-up log line.
    func scrapeMetrics() async throws -> String {
        let line = try #require(stderr.split(separator: "\n").first { $0.contains("otpgate.metrics") && $0.contains("listening on") })
        let range = try #require(line.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression))
        let address = String(line[range])
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://\(address)/metrics"), timeout: .seconds(30))
        #expect(response.status == .ok)
        return String(buffer: try await response.body.collect(upTo: 1 << 22))
    }
}
