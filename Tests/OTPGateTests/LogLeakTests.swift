import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
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
