import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Issue 16's test destinations: per tenant, fixed codes for QA and app-store review, never delivered, counted apart,
/// refused on a production deployment unless allowed there.
@Suite(.timeLimit(.minutes(3))) struct TestDestinationTests {
    @Test(arguments: Backend.available) func aTestDestinationHasItsFixedCodeAndIsNeverDelivered(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_SMS_PER_DAY": "1"])
        let other = try await h.makeTenant("other")
        let admin = TestDestinationAdmin(store: h.store, cipher: h.engine.cipher, production: false)
        let qa = try Destination.parse("+919999900001", channel: .sms)
        #expect(
            try await admin.add(tenantID: h.tenant.id, destination: qa, code: "480913", allowInProduction: false, now: h.clock.now()) == qa.masked)
        await #expect(throws: TestDestinationAdmin.Refusal.self) {
            try await admin.add(tenantID: h.tenant.id, destination: qa, code: "12ab", allowInProduction: false, now: h.clock.now())
        }
        try await h.test { (client: TestClient) async throws in
            // Three starts and a resend, none sent, none charged to the one-SMS budget.
            let first = try await client.start(to: "+919999900001")
            #expect(try await client.post("/v1/verifications/\(first)/check", #"{"code":"000000"}"#).status == .unprocessableContent)
            #expect(try await client.check(first, "480913").status == .ok)
            let second = try await client.start(to: "9999900001")
            h.clock.advance(.seconds(31))
            #expect(try await client.post("/v1/verifications/\(second)/resend").status == .ok)
            #expect(try await client.check(second, "480913").status == .ok)
            let shown = try await client.get("/v1/verifications/\(second)")
            #expect(shown.json?.member("deliveries") == .array([]))
            await h.deliver()
            #expect(h.sender.messages.isEmpty)
            // A real destination is delivered as ever, and still spends the budget.
            let real = try await client.start(to: "+919876500001")
            await h.deliver()
            #expect(h.sender.code(for: real) != nil)
            // Another tenant's same number is an ordinary destination.
            let theirs = try await client.start(to: "+919999900001", key: .some(other.apiKey))
            await h.deliver()
            #expect(h.sender.code(for: theirs) != nil)
            #expect(h.metricsText.contains(#"otpgate_test_verifications_started_total{channel="sms"} 2"#))
            #expect(h.metricsText.contains(#"otpgate_verifications_started_total{channel="sms"} 2"#))
        }
        // Listed masked; removed, it is delivered again.
        #expect(try await admin.list(tenantID: h.tenant.id).map(\.masked) == [qa.masked])
        #expect(try await admin.remove(tenantID: h.tenant.id, destination: qa, now: h.clock.now()))
        #expect(try await admin.remove(tenantID: h.tenant.id, destination: qa, now: h.clock.now()) == false)
        #expect(try await h.store.tenant(id: h.tenant.id)?.testDestinations.isEmpty == true)
        if backend == .sqlite {
            let file = try Data(contentsOf: h.directory.appendingPathComponent("otpgate.sqlite"))
            #expect(file.range(of: Data("480913".utf8)) == nil)
        }
    }

    @Test func productionRefusesATestDestinationUnlessAllowedThere() async throws {
        let smtp = try await SMTPTestServer.start()
        defer { smtp.stop() }
        var environment = DeliveryEndToEndTests.smtpEnvironment(smtp)
        environment["OTPGATE_ENV"] = "production"
        let h = try await Harness.make(environment: environment, realDelivery: true)
        let production = TestDestinationAdmin(store: h.store, cipher: h.engine.cipher, production: true)
        let staging = TestDestinationAdmin(store: h.store, cipher: h.engine.cipher, production: false)
        let review = try Destination.parse("review@example.com", channel: .email)
        let qa = try Destination.parse("qa@example.com", channel: .email)
        await #expect(throws: TestDestinationAdmin.Refusal.self) {
            try await production.add(tenantID: h.tenant.id, destination: review, code: "2468", allowInProduction: false, now: h.clock.now())
        }
        _ = try await production.add(tenantID: h.tenant.id, destination: review, code: "2468", allowInProduction: true, now: h.clock.now())
        // One added where it was allowed (a staging run on the same database) does not work here.
        _ = try await staging.add(tenantID: h.tenant.id, destination: qa, code: "1357", allowInProduction: false, now: h.clock.now())
        try await h.test { (client: TestClient) async throws in
            let refused = try await client.post("/v1/verifications", #"{"to":"qa@example.com","channel":"email"}"#)
            #expect(refused.status == .forbidden)
            #expect(refused.problemCode == "destination_not_allowed")
            #expect(refused.string("detail")?.contains("test destination") == true)
            let started = try await client.post("/v1/verifications", #"{"to":"review@example.com","channel":"email"}"#)
            let id = try #require(started.string("id"))
            #expect(try await client.check(id, "2468").status == .ok)
            await h.deliver()
            #expect(smtp.mails.isEmpty)

            // Allowed when it started, no longer when it is resent: the resend delivers a real code, which works.
            let second = try await client.post("/v1/verifications", #"{"to":"review@example.com","channel":"email"}"#)
            let secondID = try #require(second.string("id"))
            _ = try await staging.add(tenantID: h.tenant.id, destination: review, code: "2468", allowInProduction: false, now: h.clock.now())
            h.clock.advance(.seconds(31))
            #expect(try await client.post("/v1/verifications/\(secondID)/resend").status == .ok)
            await h.deliver()
            let mail = try #require(try await smtp.waitForMails(1).first)
            // The verification keeps its length (the fixed code's four digits).
            let code = String(mail.decodedBody.prefix { $0.isNumber })
            #expect(code.count == 4 && code != "2468")
            #expect(try await client.check(secondID, code).status == .ok)
        }
    }
}
