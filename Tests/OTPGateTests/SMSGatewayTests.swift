import Foundation
import OTPGateCore
import OTPGateDelivery
import Testing

/// Each SMS provider against a local HTTP server speaking its shape: the request it makes, and what each answer
/// means (taken, refused for good, or retried).
@Suite struct SMSGatewayTests {
    static func message(text: String = "482913 is your code. Do not share it.", template: String? = nil) -> OutgoingMessage {
        OutgoingMessage(
            messageID: "vrf_abc.1", tenantID: "ten_a", verificationID: "vrf_abc", channel: .sms, destination: "+919876543210", subject: nil,
            text: text, dltTemplateID: template)
    }

    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let dlt = DLTRegistration(sender: "OTPGTE", entityID: "1201159543060917386", templateID: "1207161234567890123")

    static func failure(_ body: () async throws -> Void) async -> DeliveryError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? DeliveryError
        }
    }

    // MARK: Standard Webhooks

    /// The specification's published vector.
    @Test func theStandardWebhooksVectorSigns() throws {
        let signer = try StandardWebhookSignature(secret: Self.secret)
        let body = Array(#"{"test": 2432232314}"#.utf8)
        #expect(
            signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body)
                == "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(
            signer.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330",
                signatures: "v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                body: body, now: 1_614_265_330))
        #expect(
            !signer.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", signatures: "v1,g0hM9SsE", body: body, now: 1_614_265_330))
        #expect(
            !signer.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", signatures: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                body: body, now: 1_614_265_330 + 301))
        #expect(throws: WebhookSecretError.self) { _ = try StandardWebhookSignature(secret: "short") }
    }

    // MARK: generic webhook

    @Test func theWebhookPostsSignedJSONWithTheDLTFields() async throws {
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let sender = try WebhookSMSSender(url: base + "/sms", secret: Self.secret, dlt: Self.dlt, clock: FixedTestClock(seconds: 1_800_000_000))
            let receipt = try await sender.send(Self.message(template: "1207161234567890123"))
            #expect(receipt.providerMessageID == "gw-1")
        }
        let request = try #require(gateway.requests.first)
        #expect(request.path == "/sms")
        #expect(request.headers["content-type"] == "application/json")
        let json = request.json
        #expect(json["to"] as? String == "+919876543210")
        #expect(json["text"] as? String == "482913 is your code. Do not share it.")
        #expect(json["dlt_template_id"] as? String == "1207161234567890123")
        #expect(json["dlt_entity_id"] as? String == "1201159543060917386")
        #expect(json["sender"] as? String == "OTPGTE")
        #expect(json["message_id"] as? String == "vrf_abc.1")
        // A receiver checks the signature with the shared secret, as any Standard Webhooks library does.
        #expect(request.headers["webhook-id"] == "vrf_abc.1")
        #expect(request.headers["webhook-timestamp"] == "1800000000")
        let signer = try StandardWebhookSignature(secret: Self.secret)
        #expect(
            signer.verify(
                id: try #require(request.headers["webhook-id"]), timestamp: try #require(request.headers["webhook-timestamp"]),
                signatures: try #require(request.headers["webhook-signature"]), body: request.body, now: 1_800_000_010))
        #expect(
            !signer.verify(
                id: "vrf_abc.1", timestamp: "1800000000", signatures: request.headers["webhook-signature"]!, body: request.body + [0x20],
                now: 1_800_000_010))
    }

    @Test(arguments: [
        (400, false), (401, false), (404, false), (422, false), (408, true), (429, true), (500, true), (502, true), (503, true),
    ])
    func theWebhookAnswerDecidesRetry(status: Int, retryable: Bool) async throws {
        let gateway = GatewayTestServer()
        gateway.answer(.init(status: status, body: "{}"))
        try await gateway.run { base in
            let sender = try WebhookSMSSender(url: base + "/sms", secret: Self.secret, dlt: Self.dlt)
            let error = await Self.failure { _ = try await sender.send(Self.message()) }
            #expect(error == DeliveryError(retryable: retryable, reason: "webhook: HTTP \(status)"))
        }
    }

    @Test func aSlowAnswerWithinTheTimeoutIsTakenAndOnePastItIsRetried() async throws {
        let gateway = GatewayTestServer()
        gateway.answer(.init(status: 200, body: #"{"id":"slow"}"#, delay: .milliseconds(500)), .init(status: 200, body: "{}", delay: .seconds(8)))
        try await gateway.run { base in
            let patient = try WebhookSMSSender(url: base + "/sms", secret: Self.secret, dlt: Self.dlt, timeout: .seconds(5))
            #expect(try await patient.send(Self.message()).providerMessageID == "slow")
            let hasty = try WebhookSMSSender(url: base + "/sms", secret: Self.secret, dlt: Self.dlt, timeout: .seconds(1))
            let started = ContinuousClock.now
            let error = await Self.failure { _ = try await hasty.send(Self.message()) }
            #expect(error == .retryable("webhook: timed out"))
            // Cut off by the timeout, not by the answer (8 s).
            #expect(ContinuousClock.now - started < .seconds(7))
        }
    }

    @Test func anUnreachableGatewayIsRetried() async throws {
        let sender = try WebhookSMSSender(url: "http://127.0.0.1:9/sms", secret: Self.secret, dlt: Self.dlt, timeout: .seconds(1))
        let error = await Self.failure { _ = try await sender.send(Self.message()) }
        #expect(error?.retryable == true)
    }

    // MARK: Twilio

    static func twilio(_ base: String) -> TwilioSMSSender {
        TwilioSMSSender(
            .init(
                accountSID: "AC" + String(repeating: "b", count: 32), username: "AC" + String(repeating: "b", count: 32), password: "token",
                from: "+15017122661", messagingServiceSID: nil, statusCallback: "https://otp.example.com/v1/delivery-reports/twilio", baseURL: base))
    }

    @Test func twilioGetsItsMessagesRequestAndTheSidIsKept() async throws {
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let receipt = try await Self.twilio(base).send(Self.message())
            #expect(receipt.providerMessageID == "SM" + String(repeating: "a", count: 32))
        }
        let request = try #require(gateway.requests.first)
        #expect(request.path == "/2010-04-01/Accounts/AC\(String(repeating: "b", count: 32))/Messages.json")
        #expect(request.headers["content-type"] == "application/x-www-form-urlencoded")
        let credentials = Data("AC\(String(repeating: "b", count: 32)):token".utf8).base64EncodedString()
        #expect(request.headers["authorization"] == "Basic \(credentials)")
        #expect(
            request.form == [
                "To": "+919876543210", "From": "+15017122661", "Body": "482913 is your code. Do not share it.",
                "StatusCallback": "https://otp.example.com/v1/delivery-reports/twilio",
            ])
        #expect(request.text.contains("To=%2B919876543210"))
    }

    @Test func twilioRefusalsAreKeptByCodeAndRetriedOnlyWhenTheyMayPass() async throws {
        let gateway = GatewayTestServer()
        gateway.answer(
            GatewayTestServer.twilioError(status: 400, code: 21211, message: "The 'To' number 9876543210 is not a valid phone number."),
            GatewayTestServer.twilioError(status: 401, code: 20003, message: "Authenticate"),
            GatewayTestServer.twilioError(status: 429, code: 20429, message: "Too Many Requests"),
            GatewayTestServer.twilioError(status: 503, code: 20503, message: "Service Unavailable"))
        try await gateway.run { base in
            let sender = Self.twilio(base)
            var errors: [DeliveryError?] = []
            for _ in 0..<4 { errors.append(await Self.failure { _ = try await sender.send(Self.message()) }) }
            #expect(
                errors == [
                    .permanent("twilio: HTTP 400 (21211)"), .permanent("twilio: HTTP 401 (20003)"), .retryable("twilio: HTTP 429 (20429)"),
                    .retryable("twilio: HTTP 503 (20503)"),
                ])
            // Twilio's message, which repeats the number, is never kept.
            let reasons: String = errors.compactMap { $0?.reason }.joined(separator: " ")
            #expect(!reasons.contains("9876543210"))
        }
    }

    // MARK: MSG91

    static func msg91(_ base: String) -> MSG91SMSSender {
        MSG91SMSSender(.init(authKey: "msg91-key", dlt: Self.dlt, baseURL: base))
    }

    @Test func msg91GetsTheDLTFieldsAndTheRequestIDIsKept() async throws {
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let receipt = try await Self.msg91(base).send(Self.message(template: "1207000000000000001"))
            #expect(receipt.providerMessageID == "5762846b4f8d285d378b4567")
        }
        let request = try #require(gateway.requests.first)
        #expect(request.path == "/api/sendhttp.php")
        #expect(request.headers["authkey"] == "msg91-key")
        #expect(
            request.form == [
                "authkey": "msg91-key", "mobiles": "919876543210", "message": "482913 is your code. Do not share it.", "sender": "OTPGTE",
                "route": "4", "country": "0", "response": "json", "DLT_TE_ID": "1207000000000000001", "PE_ID": "1201159543060917386",
            ])
    }

    @Test func msg91UnicodeTextIsFlagged() async throws {
        let gateway = GatewayTestServer()
        try await gateway.run { base in _ = try await Self.msg91(base).send(Self.message(text: "482913 आपका ओटीपी है")) }
        #expect(gateway.requests.first?.form["unicode"] == "1")
    }

    @Test func msg91ErrorsInA200AreRefusalsAndItsTransientCodesAreRetried() async throws {
        let gateway = GatewayTestServer()
        gateway.answer(
            .init(status: 200, body: #"{"message":"IP not whitelisted","type":"error","code":"418"}"#),
            .init(status: 200, body: #"{"message":"Request discarded","type":"error","code":"311"}"#),
            .init(status: 401, body: #"{"code":"401","message":"AuthenticationFailure","type":"error"}"#),
            .init(status: 500, body: "oops"))
        try await gateway.run { base in
            let sender = Self.msg91(base)
            var errors: [DeliveryError?] = []
            for _ in 0..<4 { errors.append(await Self.failure { _ = try await sender.send(Self.message()) }) }
            #expect(
                errors == [
                    .permanent("msg91: error 418"), .retryable("msg91: error 311"), .permanent("msg91: HTTP 401 (401)"),
                    .retryable("msg91: HTTP 500"),
                ])
        }
    }
}

/// A clock stopped at a given second.
struct FixedTestClock: OTPGateCore.Clock {
    let seconds: Int64
    func now() -> Timestamp { Timestamp(milliseconds: seconds * 1000) }
}
