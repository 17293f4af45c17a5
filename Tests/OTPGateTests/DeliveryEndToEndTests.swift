import Foundation
import HTTPTypes
import OTPGateCore
import OTPGateDelivery
import Testing

@testable import OTPGateServer

/// Start → a real provider receives the code → check approves, through the HTTP API and the outbox worker, on both
/// backends: email over SMTP (aiosmtpd), SMS through each gateway shape, both at once (`dual`), an outage that builds a
/// backlog and drains, a permanent refusal, and a production server without a provider for a channel.
@Suite(.timeLimit(.minutes(3))) struct DeliveryEndToEndTests {
    static func smtpEnvironment(_ server: SMTPTestServer) -> [String: String] {
        ["OTPGATE_SMTP_URL": "smtp://127.0.0.1:\(server.port)?starttls=never", "OTPGATE_SMTP_FROM": "Acme Bank <otp@acme.example>"]
    }

    static func code(in text: String) -> String? {
        text.range(of: #"\b[0-9]{6}\b"#, options: .regularExpression).map { String(text[$0]) }
    }

    @Test(arguments: Backend.available) func anEmailCodeArrivesOverSMTPAndApproves(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start()
        let h = try await Harness.make(backend: backend, environment: Self.smtpEnvironment(smtp), realDelivery: true)
        try await h.test { (client: TestClient) async throws in
            let started = try await client.post("/v1/verifications", #"{"to":"Riya@Example.com","channel":"email","purpose":"login"}"#)
            #expect(started.status == .created)
            let id = try #require(started.string("id"))
            await h.deliver()
            let mail = try #require(try await smtp.waitForMails(1).first)
            #expect(mail.recipients == ["riya@example.com"])
            let code = try #require(Self.code(in: mail.decodedBody))
            let shown = try await client.get("/v1/verifications/\(id)")
            guard case .array(let deliveries)? = shown["deliveries"], case .object(let delivery)? = deliveries.first else {
                throw TestFailure("no deliveries in \(String(describing: shown.json))")
            }
            #expect(deliveries.count == 1)
            #expect(delivery["status"] == .string("sent"))
            #expect(delivery["provider"] == .string("smtp"))
            #expect(delivery["channel"] == .string("email"))
            #expect(delivery["provider_message_id"] == .string("\(id).1@acme.example"))
            #expect(mail.header("Message-ID") == "<\(id).1@acme.example>")
            #expect(try await client.check(id, code).string("status") == "approved")
        }
    }

    enum Gateway: String, CaseIterable, Sendable { case webhook, twilio, msg91 }

    static func environment(_ gateway: Gateway, base: String) -> [String: String] {
        switch gateway {
        case .webhook:
            ["OTPGATE_SMS_WEBHOOK_URL": base + "/sms", "OTPGATE_SMS_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
        case .twilio:
            [
                "OTPGATE_SMS_PROVIDER": "twilio", "OTPGATE_TWILIO_ACCOUNT_SID": "AC" + String(repeating: "c", count: 32),
                "OTPGATE_TWILIO_AUTH_TOKEN": "token", "OTPGATE_TWILIO_FROM": "+15017122661", "OTPGATE_TWILIO_BASE_URL": base,
            ]
        case .msg91:
            [
                "OTPGATE_SMS_PROVIDER": "msg91", "OTPGATE_MSG91_AUTH_KEY": "key", "OTPGATE_SMS_SENDER": "ACMEBK",
                "OTPGATE_SMS_DLT_TEMPLATE_ID": "1207161234567890123", "OTPGATE_SMS_DLT_ENTITY_ID": "1201159543060917386",
                "OTPGATE_MSG91_BASE_URL": base,
            ]
        }
    }

    static func text(of request: GatewayTestServer.Recorded, _ gateway: Gateway) -> String {
        switch gateway {
        case .webhook: request.json["text"] as? String ?? ""
        case .twilio: request.form["Body"] ?? ""
        case .msg91: request.form["message"] ?? ""
        }
    }

    @Test(arguments: Backend.available, Gateway.allCases) func anSMSCodeArrivesThroughEachGatewayAndApproves(backend: Backend, gateway: Gateway)
        async throws
    {
        let server = GatewayTestServer()
        try await server.run { base in
            let h = try await Harness.make(backend: backend, environment: Self.environment(gateway, base: base), realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let id = try await client.start(to: "98765 43210")
                await h.deliver()
                let request = try #require(server.requests.first)
                let code = try #require(Self.code(in: Self.text(of: request, gateway)))
                // The built-in text goes under OTPGATE_SMS_DLT_TEMPLATE_ID.
                if gateway == .msg91 { #expect(request.form["DLT_TE_ID"] == "1207161234567890123") }
                let shown = try await client.get("/v1/verifications/\(id)")
                guard case .array(let deliveries)? = shown["deliveries"], case .object(let delivery)? = deliveries.first else {
                    throw TestFailure("no deliveries")
                }
                #expect(delivery["provider"] == .string(.init(gateway.rawValue)))
                #expect(delivery["status"] == .string("sent"))
                let expectedID =
                    switch gateway {
                    case .webhook: "gw-1"
                    case .twilio: "SM" + String(repeating: "a", count: 32)
                    case .msg91: "5762846b4f8d285d378b4567"
                    }
                #expect(delivery["provider_message_id"] == .string(expectedID))
                #expect(try await client.check(id, code).string("status") == "approved")
            }
        }
    }

    @Test(arguments: Backend.available) func aDualStartSendsOneCodeToThePhoneAndTheMailbox(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start()
        let server = GatewayTestServer()
        try await server.run { base in
            let environment = Self.smtpEnvironment(smtp).merging(Self.environment(.webhook, base: base)) { $1 }
            let h = try await Harness.make(backend: backend, environment: environment, realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let started = try await client.post("/v1/verifications", #"{"to":"9876543210","to_email":"riya@example.com","channel":"dual"}"#)
                #expect(started.status == .created)
                #expect(started.string("channel") == "dual")
                #expect(started.string("to_email") == "r***@e******.com")
                let id = try #require(started.string("id"))
                await h.deliver()
                let request = try #require(server.requests.first)
                let smsCode = try #require(Self.code(in: Self.text(of: request, .webhook)))
                let mail = try #require(try await smtp.waitForMails(1).first)
                let mailCode = try #require(Self.code(in: mail.decodedBody))
                #expect(smsCode == mailCode)
                let shown = try await client.get("/v1/verifications/\(id)")
                guard case .array(let deliveries)? = shown["deliveries"] else { throw TestFailure("no deliveries") }
                #expect(deliveries.count == 2)
                #expect(try await client.check(id, smsCode).string("status") == "approved")
            }
        }
    }

    @Test(arguments: Backend.available) func anSMTPOutageBuildsABacklogThatDrainsWhenItEnds(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start()
        try smtp.setDown(true)
        let h = try await Harness.make(backend: backend, environment: Self.smtpEnvironment(smtp), realDelivery: true)
        try await h.test { (client: TestClient) async throws in
            var ids: [String] = []
            for n in 0..<5 {
                let started = try await client.post("/v1/verifications", #"{"to":"user\#(n)@example.com","channel":"email"}"#)
                ids.append(try #require(started.string("id")))
            }
            await h.deliver()
            let backlog = try await h.store.outboxBacklog()
            #expect(backlog.depth == 5)
            for id in ids {
                let row = try #require(try await h.store.outboxMessages(verificationID: id).first)
                #expect(row.state == .pending)
                #expect(row.lastError?.hasPrefix("SMTP 421") == true)
            }
            #expect(smtp.mails.isEmpty)
            // The outage ends; the retries (after their backoff) deliver every code once.
            try smtp.setDown(false)
            h.clock.advance(.seconds(3))
            await h.deliver()
            let mails = try await smtp.waitForMails(5)
            #expect(mails.count == 5)
            #expect(Set(mails.flatMap(\.recipients)) == Set((0..<5).map { "user\($0)@example.com" }))
            #expect(try await h.store.outboxBacklog().depth == 0)
        }
    }

    @Test(arguments: Backend.available) func aRefusedMailboxFailsForGoodAndSaysWhy(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start(["--refuse-recipient", "gone"])
        let h = try await Harness.make(backend: backend, environment: Self.smtpEnvironment(smtp), realDelivery: true)
        try await h.test { (client: TestClient) async throws in
            let started = try await client.post("/v1/verifications", #"{"to":"gone@example.com","channel":"email"}"#)
            let id = try #require(started.string("id"))
            await h.deliver()
            h.clock.advance(.seconds(600))
            await h.deliver()
            let shown = try await client.get("/v1/verifications/\(id)")
            guard case .array(let deliveries)? = shown["deliveries"], case .object(let delivery)? = deliveries.first else {
                throw TestFailure("no deliveries")
            }
            #expect(delivery["status"] == .string("failed"))
            #expect(delivery["error"] == .string("SMTP 550 5.1.1 at RCPT"))
            #expect(delivery["attempts"] == .int(1))
        }
    }

    @Test func productionRefusesAChannelWithoutAProviderAndSaysWhichItServes() async throws {
        let smtp = try await SMTPTestServer.start()
        var environment = Self.smtpEnvironment(smtp)
        environment["OTPGATE_ENV"] = "production"
        let h = try await Harness.make(environment: environment, realDelivery: true)
        #expect(h.runtime.routes.summary == "sms=unavailable email=smtp")
        try await h.test { (client: TestClient) async throws in
            let refused = try await client.post("/v1/verifications", #"{"to":"9876543210","channel":"sms"}"#)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.problemCode == "channel_unavailable")
            #expect(refused.string("channel") == "sms")
            let dual = try await client.post("/v1/verifications", #"{"to":"9876543210","to_email":"a@example.com","channel":"dual"}"#)
            #expect(dual.problemCode == "channel_unavailable")
            #expect(try await client.post("/v1/verifications", #"{"to":"a@example.com","channel":"email"}"#).status == .created)
        }
        // Nothing was written for the refused starts.
        #expect(try await h.store.outboxBacklog().depth == 1)
    }

    @Test func deliverySettingsAreCheckedAtStartUp() throws {
        let refused: [[String: String]] = [
            ["OTPGATE_SMTP_URL": "smtp://127.0.0.1:25"],  // no sender address
            ["OTPGATE_SMTP_URL": "http://127.0.0.1:25", "OTPGATE_SMTP_FROM": "a@b.example"],
            ["OTPGATE_SMTP_URL": "smtp://u:p@127.0.0.1:25?starttls=never", "OTPGATE_SMTP_FROM": "a@b.example"],
            ["OTPGATE_SMTP_URL": "smtp://127.0.0.1:25", "OTPGATE_SMTP_FROM": "not an address"],
            ["OTPGATE_SMTP_FROM": "a@b.example"],
            ["OTPGATE_SMS_WEBHOOK_URL": "http://127.0.0.1:1/sms"],  // no secret
            ["OTPGATE_SMS_WEBHOOK_URL": "ftp://x/sms", "OTPGATE_SMS_WEBHOOK_SECRET": "0123456789abcdef0123"],
            ["OTPGATE_SMS_PROVIDER": "twilio", "OTPGATE_TWILIO_ACCOUNT_SID": "AC1"],
            ["OTPGATE_SMS_PROVIDER": "msg91", "OTPGATE_MSG91_AUTH_KEY": "k"],  // no DLT header
            ["OTPGATE_SMS_PROVIDER": "carrier-pigeon"],
        ]
        for environment in refused {
            #expect(throws: ConfigurationError.self, "\(environment)") { _ = try ServerSettings(environment: environment) }
        }
        // The password in the URL is never in the message.
        do {
            _ = try ServerSettings(environment: [
                "OTPGATE_SMTP_URL": "smtp://u:hunter2@127.0.0.1:25?starttls=never", "OTPGATE_SMTP_FROM": "a@b.example",
            ])
        } catch {
            #expect(!"\(error)".contains("hunter2"))
        }
        let production = try ServerSettings(environment: [
            "OTPGATE_ENV": "production", "OTPGATE_SMS_WEBHOOK_URL": "https://gw.example/sms", "OTPGATE_SMS_WEBHOOK_SECRET": "0123456789abcdef0123",
        ])
        #expect(try DeliverySetup.routes(production).summary == "sms=webhook email=unavailable")
    }
}
