import Foundation
import HTTPTypes
import OTPGateCore
import OTPGateDelivery
import Testing

@testable import OTPGateServer

/// Fallback chains (`"fallback": ["email"]` with `to_email`): the same code goes to the other channel when the first
/// message fails for good or is not reported delivered within `fallback_after_seconds`; a delivery report, the
/// acceptance of a provider that sends no reports, or an approval makes it unnecessary. Real servers on loopback (an
/// HTTP SMS gateway, aiosmtpd), both backends.
@Suite(.timeLimit(.minutes(3))) struct FallbackTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    static func environment(_ smtp: SMTPTestServer, gateway base: String) -> [String: String] {
        DeliveryEndToEndTests.smtpEnvironment(smtp).merging(DeliveryEndToEndTests.environment(.webhook, base: base)) { $1 }
    }

    static let smsWithEmailFallback = #"{"to":"9876543210","channel":"sms","to_email":"riya@example.com","fallback":["email"]"#

    /// The deliveries of a verification, by message id.
    static func deliveries(_ client: TestClient, _ id: String) async throws -> [String: [String: JSONValue]] {
        let shown = try await client.get("/v1/verifications/\(id)")
        guard case .array(let items)? = shown["deliveries"] else { throw TestFailure("no deliveries") }
        var out: [String: [String: JSONValue]] = [:]
        for case .object(let o) in items {
            if case .string(let messageID)? = o["id"] { out[messageID] = o }
        }
        return out
    }

    /// A delivery report from the webhook gateway, signed with its secret as Standard Webhooks says.
    static func postReport(_ body: String, id: String, client: TestClient, at now: Timestamp) async throws -> APIResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        for (name, value) in try StandardWebhookSignature(secret: secret).headers(id: id, timestamp: now.seconds, body: Array(body.utf8)) {
            headers[HTTPField.Name(name)!] = value
        }
        return try await client.post("/delivery-reports/webhook", body, key: .some(nil), headers: headers)
    }

    /// The code in the last SMS the webhook gateway took.
    static func lastCode(_ gateway: GatewayTestServer) -> String? {
        gateway.requests.last.flatMap { DeliveryEndToEndTests.code(in: DeliveryEndToEndTests.text(of: $0, .webhook)) }
    }

    static func claims(_ client: TestClient, token: String) async throws -> [String: JSONValue] {
        let verified = try await client.post("/v1/tokens/verify", #"{"token":"\#(token)"}"#)
        guard case .object(let claims)? = verified["claims"] else { throw TestFailure("no claims") }
        return claims
    }

    @Test(arguments: Backend.available) func aGatewayThatRefusesFallsBackToEmailAtOnce(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start()
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            gateway.answer(.init(status: 400, body: #"{"error":"invalid number"}"#))
            let h = try await Harness.make(backend: backend, environment: Self.environment(smtp, gateway: base), realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let started = try await client.post("/v1/verifications", Self.smsWithEmailFallback + "}")
                #expect(started.status == .created)
                #expect(started["fallback"] == .object(["channel": .string("email"), "to": .string("r***@e******.com"), "after_seconds": .int(30)]))
                let id = try #require(started.string("id"))
                await h.deliver()  // the SMS is refused for good, so the email goes out in the same drain, no wait
                #expect(gateway.requests.count == 1)
                let mail = try #require(try await smtp.waitForMails(1).first)
                #expect(mail.recipients == ["riya@example.com"])
                let code = try #require(DeliveryEndToEndTests.code(in: mail.decodedBody))
                let deliveries = try await Self.deliveries(client, id)
                #expect(deliveries["\(id).1"]?["status"] == .string("failed"))
                #expect(deliveries["\(id).1.3"]?["status"] == .string("sent"))
                #expect(deliveries["\(id).1.3"]?["fallback"] == .bool(true))
                #expect(deliveries["\(id).1.3"]?["channel"] == .string("email"))
                let checked = try await client.check(id, code)
                #expect(checked.string("status") == "approved")
                // Only the mailbox can have given the code: the token says so, and says nothing of the phone.
                let claims = try await Self.claims(client, token: try #require(checked.string("token")))
                #expect(claims["email"] == .string("riya@example.com"))
                #expect(claims["email_verified"] == .bool(true))
                #expect(claims["phone_number"] == nil)
                #expect(claims["amr"] == .array([.string("otp"), .string("email")]))
            }
        }
    }

    @Test(arguments: Backend.available) func anSMSNotReportedDeliveredInTimeFallsBackToEmail(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start()
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(backend: backend, environment: Self.environment(smtp, gateway: base), realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let id = try #require(
                    try await client.post("/v1/verifications", Self.smsWithEmailFallback + #","fallback_after_seconds":20}"#).string("id"))
                await h.deliver()
                let smsCode = try #require(Self.lastCode(gateway))
                h.clock.advance(.seconds(19))
                await h.deliver()
                #expect(smtp.mails.isEmpty)
                #expect(try await Self.deliveries(client, id)["\(id).1.3"]?["status"] == .string("queued"))
                h.clock.advance(.seconds(1))
                await h.deliver()
                let mail = try #require(try await smtp.waitForMails(1).first)
                // The same code on both channels: attempts and expiry stay the verification's.
                #expect(DeliveryEndToEndTests.code(in: mail.decodedBody) == smsCode)
                let checked = try await client.check(id, smsCode)
                #expect(checked.string("status") == "approved")
                // Either message may have carried it: the token names both destinations and verifies neither.
                let claims = try await Self.claims(client, token: try #require(checked.string("token")))
                #expect(claims["phone_number"] == .string("+919876543210"))
                #expect(claims["email"] == .string("riya@example.com"))
                #expect(claims["phone_number_verified"] == .bool(false))
                #expect(claims["email_verified"] == .bool(false))
            }
        }
    }

    @Test(arguments: Backend.available) func anSMSReportedFailedAfterItWasTakenMayStillHaveArrived(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start()
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(backend: backend, environment: Self.environment(smtp, gateway: base), realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let id = try #require(try await client.post("/v1/verifications", Self.smsWithEmailFallback + "}").string("id"))
                await h.deliver()
                let report = #"{"id":"gw-1","status":"failed","error_code":"EXPIRED"}"#
                #expect(try await Self.postReport(report, id: "dlr_2", client: client, at: h.clock.now()).status == .noContent)
                await h.deliver()  // the report released the fallback: the email goes out now
                let mail = try #require(try await smtp.waitForMails(1).first)
                let checked = try await client.check(id, try #require(DeliveryEndToEndTests.code(in: mail.decodedBody)))
                // The gateway had taken the SMS: it may have arrived all the same, so neither destination is verified.
                let claims = try await Self.claims(client, token: try #require(checked.string("token")))
                #expect(claims["phone_number_verified"] == .bool(false))
                #expect(claims["email_verified"] == .bool(false))
            }
        }
    }

    /// A worker whose lease ran out reports a permanent failure after another worker claimed the message again: the
    /// outcome is fenced out, and so is its effect on the fallback.
    @Test(arguments: Backend.available) func aLateOutcomeOfALostClaimDoesNotReleaseTheFallback(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { (client: TestClient) async throws in
            let id = try #require(
                try await client.post(
                    "/v1/verifications", #"{"to":"9876543210","channel":"sms","to_email":"a@b.in","fallback":["email"],"fallback_after_seconds":120}"#
                ).string("id"))
            let fallbackDue = h.clock.now() + .seconds(120)
            _ = try await h.store.claimOutbox(limit: 10, now: h.clock.now(), leaseUntil: h.clock.now() + .seconds(30))
            h.clock.advance(.seconds(31))
            let again = try await h.store.claimOutbox(limit: 10, now: h.clock.now(), leaseUntil: h.clock.now() + .seconds(30))
            #expect(again.map(\.id) == ["\(id).1"])
            #expect(again.first?.attempts == 2)
            try await h.store.finishOutbox(
                [DeliveryResult(messageID: "\(id).1", attempt: 1, outcome: .failed(error: "gateway: HTTP 400"))], now: h.clock.now())
            let fallback = try #require(try await h.store.outboxMessages(verificationID: id).first { $0.id == "\(id).1.3" })
            #expect(fallback.state == .pending)
            #expect(fallback.nextAttemptAt == fallbackDue)
            // The current claim's failure does release it.
            try await h.store.finishOutbox(
                [DeliveryResult(messageID: "\(id).1", attempt: 2, outcome: .failed(error: "gateway: HTTP 400"))], now: h.clock.now())
            #expect(try await h.store.outboxMessages(verificationID: id).first { $0.id == "\(id).1.3" }?.nextAttemptAt == h.clock.now())
        }
    }

    @Test(arguments: Backend.available) func aDeliveryReportOrAnApprovalCancelsTheFallback(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start()
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(backend: backend, environment: Self.environment(smtp, gateway: base), realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                // Reported delivered: the fallback is superseded at once.
                let reported = try #require(try await client.post("/v1/verifications", Self.smsWithEmailFallback + "}").string("id"))
                await h.deliver()
                let report = #"{"id":"gw-1","status":"delivered"}"#
                #expect(try await Self.postReport(report, id: "dlr_1", client: client, at: h.clock.now()).status == .noContent)
                #expect(try await Self.deliveries(client, reported)["\(reported).1.3"]?["status"] == .string("superseded"))

                // Approved before the fallback's time: it never goes out.
                gateway.answer(.init(status: 200, body: #"{"id":"gw-2"}"#))
                let approved = try #require(
                    try await client.post(
                        "/v1/verifications", #"{"to":"9876501234","channel":"sms","to_email":"dev@example.com","fallback":["email"]}"#
                    )
                    .string("id"))
                await h.deliver()
                let code = try #require(Self.lastCode(gateway))
                let checked = try await client.check(approved, code)
                let claims = try await Self.claims(client, token: try #require(checked.string("token")))
                #expect(claims["phone_number_verified"] == .bool(true))
                #expect(claims["email"] == nil)

                h.clock.advance(.seconds(60))
                await h.deliver()
                try await Task.sleep(for: .milliseconds(300))
                #expect(smtp.mails.isEmpty)
                #expect(try await Self.deliveries(client, approved)["\(approved).1.3"]?["status"] == .string("superseded"))
            }
        }
    }

    @Test(arguments: Backend.available) func aTenantsDefaultChainAndAProviderWithoutReports(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start()
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(backend: backend, environment: Self.environment(smtp, gateway: base), realDelivery: true)
            var overrides = PolicyOverrides()
            overrides.fallbackChannels = [.sms]
            overrides.fallbackAfterSeconds = 10
            #expect(try await h.store.updateTenantPolicy(id: h.tenant.id, overrides: overrides))
            try await h.test { (client: TestClient) async throws in
                // The tenant's chain applies to a start that names a phone; SMTP accepting the mail settles it (SMTP
                // sends no delivery reports), so no SMS follows.
                let started = try await client.post("/v1/verifications", #"{"to":"riya@example.com","channel":"email","to_phone":"9876543210"}"#)
                #expect(started.status == .created)
                #expect(started["fallback"] == .object(["channel": .string("sms"), "to": .string("+91******3210"), "after_seconds": .int(10)]))
                let id = try #require(started.string("id"))
                await h.deliver()
                _ = try await smtp.waitForMails(1)
                #expect(try await Self.deliveries(client, id)["\(id).1.3"]?["status"] == .string("superseded"))
                h.clock.advance(.seconds(30))
                await h.deliver()
                #expect(gateway.requests.isEmpty)

                // `"fallback": []` turns the tenant's chain off for one start.
                let alone = try await client.post(
                    "/v1/verifications", #"{"to":"dev@example.com","channel":"email","to_phone":"9876543210","fallback":[]}"#)
                #expect(alone.status == .unprocessableContent)
                #expect(alone.string("field") == "to_phone")
                let plain = try await client.post("/v1/verifications", #"{"to":"dev@example.com","channel":"email","fallback":[]}"#)
                #expect(plain.status == .created)
                #expect(plain["fallback"] == nil)
            }
        }
    }

    @Test(arguments: Backend.available) func aResendRebuildsTheChainForTheNewCode(backend: Backend) async throws {
        let smtp = try await SMTPTestServer.start()
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(backend: backend, environment: Self.environment(smtp, gateway: base), realDelivery: true)
            try await h.test { (client: TestClient) async throws in
                let id = try #require(try await client.post("/v1/verifications", Self.smsWithEmailFallback + "}").string("id"))
                await h.deliver()
                h.clock.advance(.seconds(30))  // the resend cooldown; the fallback is due too, but the resend comes first
                let resent = try await client.post("/v1/verifications/\(id)/resend")
                #expect(resent.status == .ok, "\(resent.json ?? .null)")
                await h.deliver()
                let deliveries = try await Self.deliveries(client, id)
                #expect(deliveries["\(id).1.3"]?["status"] == .string("superseded"))
                #expect(deliveries["\(id).2.3"]?["status"] == .string("queued"))
                h.clock.advance(.seconds(30))
                await h.deliver()
                let mail = try #require(try await smtp.waitForMails(1).first)
                let newCode = try #require(Self.lastCode(gateway))
                #expect(DeliveryEndToEndTests.code(in: mail.decodedBody) == newCode)
                #expect(smtp.mails.count == 1)
            }
        }
    }

    @Test func badFallbackRequestsAreRefusedNamingTheField() async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            let cases: [(String, String)] = [
                (#"{"to":"9876543210","channel":"sms","fallback":["email"]}"#, "to_email"),
                (#"{"to":"9876543210","channel":"sms","to_email":"a@b.in"}"#, "to_email"),
                (#"{"to":"9876543210","channel":"sms","to_email":"a@b.in","fallback":["sms"]}"#, "fallback"),
                (#"{"to":"9876543210","channel":"sms","to_email":"a@b.in","fallback":["email","email"]}"#, "fallback"),
                (#"{"to":"9876543210","channel":"sms","to_email":"a@b.in","fallback":"email"}"#, "fallback"),
                (#"{"to":"9876543210","channel":"sms","to_email":"a@b.in","fallback":["fax"]}"#, "fallback"),
                (#"{"to":"9876543210","channel":"dual","to_email":"a@b.in","fallback":["email"]}"#, "fallback"),
                (#"{"to":"9876543210","channel":"sms","to_phone":"9876543211"}"#, "to_phone"),
                (#"{"to":"9876543210","channel":"sms","fallback_after_seconds":10}"#, "fallback_after_seconds"),
                (
                    #"{"to":"9876543210","channel":"sms","to_email":"a@b.in","fallback":["email"],"fallback_after_seconds":4}"#,
                    "fallback_after_seconds"
                ),
                (
                    #"{"to":"9876543210","channel":"sms","to_email":"a@b.in","fallback":["email"],"fallback_after_seconds":60,"ttl_seconds":60}"#,
                    "fallback_after_seconds"
                ),
                (#"{"to":"9876543210","channel":"sms","to_email":"not-an-address","fallback":["email"]}"#, "to_email"),
            ]
            for (body, field) in cases {
                let response = try await client.post("/v1/verifications", body)
                #expect(response.status == .unprocessableContent, "\(body)")
                #expect(response.string("field") == field, "\(body)")
            }
            #expect(h.sender.messages.isEmpty)
        }
    }
}
