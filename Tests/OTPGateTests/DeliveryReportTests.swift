import Foundation
import HTTPTypes
import OTPGateCore
import OTPGateDelivery
import Testing

@testable import OTPGateServer

/// Providers' delivery reports: each checked by the signature (or token) its provider documents, and applied to the
/// message it names: `sent` becomes `delivered` or `failed`; a forged, stale or misdirected report changes nothing.
@Suite(.timeLimit(.minutes(3))) struct DeliveryReportTests {
    /// Twilio's documented example (webhooks security page).
    @Test func twilioSignaturesMatchThePublishedExample() {
        let fields = [
            ("Digits", "1234"), ("To", "+18005551212"), ("From", "+14158675310"), ("Caller", "+14158675310"), ("CallSid", "CA1234567890ABCDE"),
        ]
        #expect(
            TwilioReportReader.signature(url: "https://example.com/myapp.php?foo=1&bar=2", fields: fields, authToken: "12345")
                == "L/OH5YylLD5NRKLltdqwSvS0BnU=")
    }

    static let callback = "https://otp.example.com/delivery-reports/twilio"
    static let sid = "SM" + String(repeating: "a", count: 32)

    static func twilioEnvironment(_ base: String) -> [String: String] {
        [
            "OTPGATE_SMS_PROVIDER": "twilio", "OTPGATE_TWILIO_ACCOUNT_SID": "AC" + String(repeating: "c", count: 32),
            "OTPGATE_TWILIO_AUTH_TOKEN": "token-123", "OTPGATE_TWILIO_FROM": "+15017122661", "OTPGATE_TWILIO_BASE_URL": base,
            "OTPGATE_TWILIO_STATUS_CALLBACK_URL": callback,
        ]
    }

    static func form(_ fields: [(String, String)]) -> String {
        fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
    }

    func status(_ client: TestClient, _ id: String) async throws -> (String?, String?) {
        let shown = try await client.get("/v1/verifications/\(id)")
        guard case .array(let deliveries)? = shown["deliveries"], case .object(let d)? = deliveries.first else { return (nil, nil) }
        if case .string(let status)? = d["status"] {
            if case .string(let error)? = d["error"] { return (status, error) }
            return (status, nil)
        }
        return (nil, nil)
    }

    @Test(arguments: Backend.available) func twilioReportsAreSignedAndMarkTheMessage(backend: Backend) async throws {
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(backend: backend, environment: Self.twilioEnvironment(base), realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let id = try await client.start()
                await h.deliver()
                #expect(gateway.requests.first?.form["StatusCallback"] == Self.callback)
                #expect(try await status(client, id).0 == "sent")
                let fields = [
                    ("AccountSid", "AC" + String(repeating: "c", count: 32)), ("From", "+15017122661"), ("MessageSid", Self.sid),
                    ("MessageStatus", "delivered"), ("SmsSid", Self.sid), ("SmsStatus", "delivered"), ("To", "+919876543210"),
                ]
                let good = TwilioReportReader.signature(url: Self.callback, fields: fields, authToken: "token-123")
                let forged = TwilioReportReader.signature(url: Self.callback, fields: fields, authToken: "guess")
                let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                var bad = form
                bad[HTTPField.Name("X-Twilio-Signature")!] = forged
                #expect(try await client.post("/delivery-reports/twilio", Self.form(fields), key: .some(nil), headers: bad).status == .unauthorized)
                #expect(try await client.post("/delivery-reports/twilio", Self.form(fields), key: .some(nil), headers: form).status == .unauthorized)
                #expect(try await status(client, id).0 == "sent")
                var signed = form
                signed[HTTPField.Name("X-Twilio-Signature")!] = good
                #expect(try await client.post("/delivery-reports/twilio", Self.form(fields), key: .some(nil), headers: signed).status == .noContent)
                #expect(try await status(client, id).0 == "delivered")
                // A later, out-of-order "undelivered" does not reopen a delivered message.
                let late = [("MessageSid", Self.sid), ("MessageStatus", "undelivered"), ("ErrorCode", "30003")]
                signed[HTTPField.Name("X-Twilio-Signature")!] = TwilioReportReader.signature(url: Self.callback, fields: late, authToken: "token-123")
                #expect(try await client.post("/delivery-reports/twilio", Self.form(late), key: .some(nil), headers: signed).status == .noContent)
                #expect(try await status(client, id).0 == "delivered")
            }
        }
    }

    @Test func aTwilioFailureReportSaysWhy() async throws {
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(environment: Self.twilioEnvironment(base), realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let id = try await client.start()
                await h.deliver()
                let fields = [("MessageSid", Self.sid), ("MessageStatus", "undelivered"), ("ErrorCode", "30003")]
                var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                headers[HTTPField.Name("X-Twilio-Signature")!] = TwilioReportReader.signature(
                    url: Self.callback, fields: fields, authToken: "token-123")
                #expect(try await client.post("/delivery-reports/twilio", Self.form(fields), key: .some(nil), headers: headers).status == .noContent)
                let (state, error) = try await status(client, id)
                #expect(state == "failed")
                #expect(error == "twilio: undelivered (30003)")
            }
        }
    }

    @Test func webhookGatewayReportsAreSignedAsStandardWebhooks() async throws {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(
                environment: ["OTPGATE_SMS_WEBHOOK_URL": base + "/sms", "OTPGATE_SMS_WEBHOOK_SECRET": secret], realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let id = try await client.start()
                await h.deliver()
                let body = #"{"id":"gw-1","status":"delivered"}"#
                let signer = try StandardWebhookSignature(secret: secret)
                func headers(at time: Int64) -> HTTPFields {
                    var fields: HTTPFields = [.contentType: "application/json"]
                    for (name, value) in signer.headers(id: "dlr_1", timestamp: time, body: Array(body.utf8)) {
                        fields[HTTPField.Name(name)!] = value
                    }
                    return fields
                }
                let now = h.clock.now().seconds
                // Signed ten minutes ago: refused (a replayed capture), and the message stays as it was.
                #expect(
                    try await client.post("/delivery-reports/webhook", body, key: .some(nil), headers: headers(at: now - 600)).status == .unauthorized
                )
                #expect(try await status(client, id).0 == "sent")
                #expect(try await client.post("/delivery-reports/webhook", body, key: .some(nil), headers: headers(at: now)).status == .noContent)
                #expect(try await status(client, id).0 == "delivered")
            }
        }
    }

    @Test func msg91ReportsNeedTheSecretPathToken() async throws {
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(
                environment: [
                    "OTPGATE_SMS_PROVIDER": "msg91", "OTPGATE_MSG91_AUTH_KEY": "key", "OTPGATE_SMS_SENDER": "ACMEBK", "OTPGATE_MSG91_BASE_URL": base,
                    "OTPGATE_MSG91_REPORT_TOKEN": "0123456789abcdefXYZ",
                ], realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let first = try await client.start(to: "+919876543210")
                await h.deliver()
                let json: HTTPFields = [.contentType: "application/json"]
                let v3 =
                    #"{"date":"2024-05-22 09:58:16","number":"919876543210","senderId":"ACMEBK","requestId":"5762846b4f8d285d378b4567","status":"1","desc":"DELIVERED"}"#
                #expect(
                    try await client.post("/delivery-reports/msg91/wrong-token-000000", v3, key: .some(nil), headers: json).status == .unauthorized)
                #expect(try await client.post("/delivery-reports/msg91", v3, key: .some(nil), headers: json).status == .unauthorized)
                #expect(try await status(client, first).0 == "sent")
                #expect(try await client.post("/delivery-reports/msg91/0123456789abcdefXYZ", v3, key: .some(nil), headers: json).status == .noContent)
                #expect(try await status(client, first).0 == "delivered")

                // The v2 form (`data=<JSON array>`), a rejection.
                gateway.answer(.init(status: 200, body: #"{"message":"6762846b4f8d285d378b4567","type":"success"}"#))
                let second = try await client.start(to: "+919876543211")
                await h.deliver()
                let v2 =
                    #"[{"senderId":"ACMEBK","requestId":"6762846b4f8d285d378b4567","report":[{"date":"2024-05-22 10:06:20","number":"919876543211","status":"16","desc":"REJECTED"}],"userId":"27","campaignName":"Sendhttp"}]"#
                let body = "data=" + (v2.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
                #expect(
                    try await client.post(
                        "/delivery-reports/msg91/0123456789abcdefXYZ", body, key: .some(nil),
                        headers: [.contentType: "application/x-www-form-urlencoded"]
                    ).status == .noContent)
                let (state, error) = try await status(client, second)
                #expect(state == "failed")
                #expect(error == "msg91: status 16")
            }
        }
    }

    @Test func aProviderWithoutReportsConfiguredIsNotFound() async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            #expect(try await client.post("/delivery-reports/twilio", "x=1", key: .some(nil)).status == .notFound)
            #expect(try await client.post("/delivery-reports/carrier-pigeon", "x=1", key: .some(nil)).status == .notFound)
        }
    }
}
