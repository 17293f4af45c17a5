import Foundation
import HTTPTypes
import OTPGateCore
import OTPGateDelivery
import Testing

@testable import OTPGateServer

/// Tenant webhooks: a receiver on loopback gets `verification.approved|failed|expired` and `delivery.failed`, signed as
/// Standard Webhooks says with the endpoint's `whsec_` secret, and checks every signature; an outage is retried on
/// the schedule; an endpoint only gets the types it takes; the list of deliveries shows what happened; both backends.
@Suite(.timeLimit(.minutes(3))) struct WebhookTests {
    /// Sets the tenant's endpoint to the receiver and returns its secret.
    static func register(_ client: TestClient, base: String, events: String? = nil) async throws -> String {
        let body = #"{"url":"\#(base)/hooks""# + (events.map { #","events":\#($0)"# } ?? "") + "}"
        let saved = try await client.call(.put, "/v1/webhook", json: body)
        #expect(saved.status == .created)
        let secret = try #require(saved.string("secret"))
        #expect(secret.hasPrefix("whsec_"))
        return secret
    }

    /// Every event the receiver got, each signature checked with `secret` (as a receiver must).
    static func received(_ receiver: GatewayTestServer, secret: String, now: Int64) throws -> [(id: String, type: String, body: [String: Any])] {
        let signer = try StandardWebhookSignature(secret: secret)
        return try receiver.requests.filter { $0.path == "/hooks" }.map { request in
            let id = try #require(request.headers["webhook-id"])
            let verified = signer.verify(
                id: id, timestamp: try #require(request.headers["webhook-timestamp"]), signatures: try #require(request.headers["webhook-signature"]),
                body: request.body, now: now)
            #expect(verified, "the signature of \(id) does not verify")
            #expect(
                !signer.verify(
                    id: id + "x", timestamp: request.headers["webhook-timestamp"]!, signatures: request.headers["webhook-signature"]!,
                    body: request.body, now: now))
            return (id, request.json["type"] as? String ?? "", request.json["data"] as? [String: Any] ?? [:])
        }
    }

    static func deliveries(_ client: TestClient) async throws -> [[String: JSONValue]] {
        guard case .array(let items)? = try await client.get("/v1/webhook/deliveries")["deliveries"] else { throw TestFailure("no deliveries") }
        return items.compactMap { if case .object(let o) = $0 { o } else { nil } }
    }

    @Test(arguments: Backend.available) func eachEventReachesAReceiverThatChecksItsSignature(backend: Backend) async throws {
        let receiver = GatewayTestServer()
        try await receiver.run { base in
            let h = try await Harness.make(backend: backend)
            try await h.test { (client: TestClient) async throws in
                let secret = try await Self.register(client, base: base)

                let approved = try await client.start(to: "+919876500001")
                await h.deliver()
                #expect(try await client.check(approved, try #require(h.sender.code(for: approved))).string("status") == "approved")

                let failed = try await client.start(to: "+919876500002")
                await h.deliver()
                let wrong = wrongCode(for: try #require(h.sender.code(for: failed)))
                for _ in 0..<5 { try await client.check(failed, wrong) }

                h.sender.failNext([.permanent("gateway: HTTP 400")])
                let undelivered = try await client.start(to: "+919876500003")
                await h.deliver()

                let expired = try await client.start(to: "+919876500004")
                await h.deliver()
                h.clock.advance(.seconds(301))
                await h.runtime.sweeper.sweepOnce()

                await h.runtime.webhookDispatcher.drainOnce()
                let events = try Self.received(receiver, secret: secret, now: h.clock.now().seconds)
                let byType = Dictionary(events.map { ($0.type, $0) }, uniquingKeysWith: { a, _ in a })
                // One terminal event per verification: the one whose attempts were spent does not also expire; the one
                // whose message failed does.
                #expect(events.count == 5)
                #expect(
                    Set(events.filter { $0.type == "verification.expired" }.compactMap { $0.body["verification_id"] as? String })
                        == [expired, undelivered])
                #expect(byType["verification.approved"]?.id == "\(approved).verification.approved")
                #expect(byType["verification.approved"]?.body["verification_id"] as? String == approved)
                #expect(byType["verification.failed"]?.body["verification_id"] as? String == failed)
                #expect(byType["delivery.failed"]?.body["message_id"] as? String == "\(undelivered).1")
                #expect(byType["delivery.failed"]?.body["error"] as? String == "gateway: HTTP 400")
                // No destination and no code in any body.
                for request in receiver.requests { #expect(!request.text.contains("98765")) }

                let listed = try await Self.deliveries(client)
                #expect(listed.count == 5)
                #expect(listed.allSatisfy { $0["status"] == .string("delivered") && $0["last_status"] == .int(200) && $0["attempts"] == .int(1) })

                // A second sweep or drain sends nothing again.
                await h.runtime.sweeper.sweepOnce()
                await h.runtime.webhookDispatcher.drainOnce()
                #expect(receiver.requests.count == 5)
            }
        }
    }

    @Test(arguments: Backend.available) func anOutageIsRetriedAndAnEndpointOnlyGetsItsEvents(backend: Backend) async throws {
        let receiver = GatewayTestServer()
        try await receiver.run { base in
            let h = try await Harness.make(backend: backend)
            try await h.test { (client: TestClient) async throws in
                let secret = try await Self.register(client, base: base, events: #"["verification.approved"]"#)
                receiver.answer(.init(status: 503, body: "{}"))

                let id = try await client.start()
                await h.deliver()
                let code = try #require(h.sender.code(for: id))
                let other = try await client.start(to: "+919876500009")
                await h.deliver()
                for _ in 0..<5 { try await client.check(other, wrongCode(for: try #require(h.sender.code(for: other)))) }
                try await client.check(id, code)

                await h.runtime.webhookDispatcher.drainOnce()
                var listed = try await Self.deliveries(client)
                #expect(listed.count == 1)  // not `verification.failed`: the endpoint does not take it
                #expect(listed.first?["status"] == .string("queued"))
                #expect(listed.first?["last_status"] == .int(503))
                #expect(listed.first?["error"] == .string("HTTP 503"))
                #expect(listed.first?["next_attempt_at"] != nil)

                // Not due yet: nothing is sent; five seconds on, the retry goes out with the same webhook-id.
                h.clock.advance(.seconds(4))
                await h.runtime.webhookDispatcher.drainOnce()
                #expect(receiver.requests.count == 1)
                h.clock.advance(.seconds(1))
                await h.runtime.webhookDispatcher.drainOnce()
                let events = try Self.received(receiver, secret: secret, now: h.clock.now().seconds - 5)
                #expect(events.map(\.id) == ["\(id).verification.approved", "\(id).verification.approved"])
                listed = try await Self.deliveries(client)
                #expect(listed.first?["status"] == .string("delivered"))
                #expect(listed.first?["attempts"] == .int(2))
            }
        }
    }

    /// A receiver's redirect is an answer, not a new address: the signed body never goes anywhere else.
    @Test func aRedirectIsNotFollowed() async throws {
        let receiver = GatewayTestServer()
        try await receiver.run { base in
            let h = try await Harness.make()
            try await h.test { (client: TestClient) async throws in
                _ = try await Self.register(client, base: base, events: #"["verification.approved"]"#)
                receiver.answer(.init(status: 307, body: "{}", headers: ["location": base + "/elsewhere"]))
                let id = try await client.start()
                await h.deliver()
                try await client.check(id, try #require(h.sender.code(for: id)))
                await h.runtime.webhookDispatcher.drainOnce()
                #expect(receiver.requests.map(\.path) == ["/hooks"])
                let listed = try await Self.deliveries(client)
                #expect(listed.first?["status"] == .string("queued"))
                #expect(listed.first?["last_status"] == .int(307))
            }
        }
    }

    @Test func theEndpointIsManagedPerTenant() async throws {
        let h = try await Harness.make()
        let other = try await h.makeTenant("other")
        try await h.test { (client: TestClient) async throws in
            #expect(try await client.get("/v1/webhook").status == .notFound)
            for (body, field) in [
                (#"{"url":"ftp://hooks.example.in/x"}"#, "url"), (#"{"url":"https://user:pw@hooks.example.in/x"}"#, "url"),
                (#"{"url":"https://hooks.example.in/x#frag"}"#, "url"), (#"{"url":"https://hooks.example.in/x","events":["nope"]}"#, "events"),
                (#"{"url":"https://hooks.example.in/x","events":[]}"#, "events"), (#"{"events":["delivery.failed"]}"#, "url"),
            ] {
                let refused = try await client.call(.put, "/v1/webhook", json: body)
                #expect(refused.status == .unprocessableContent, "\(body)")
                #expect(refused.string("field") == field, "\(body)")
            }
            let created = try await client.call(.put, "/v1/webhook", json: #"{"url":"https://hooks.example.in/otp"}"#)
            #expect(created.status == .created)
            let first = try #require(created.string("secret"))
            #expect(created["events"] == .array(WebhookEventType.allCases.sorted().map { .string($0.rawValue) }))
            // Changing the URL keeps the secret (not shown again); rotating it shows the new one once.
            let changed = try await client.call(.put, "/v1/webhook", json: #"{"url":"https://hooks.example.in/v2","events":["delivery.failed"]}"#)
            #expect(changed.status == .ok)
            #expect(changed["secret"] == nil)
            let rotated = try await client.call(.put, "/v1/webhook", json: #"{"url":"https://hooks.example.in/v2","rotate_secret":true}"#)
            let second = try #require(rotated.string("secret"))
            #expect(second != first)
            let shown = try await client.get("/v1/webhook")
            #expect(shown.string("url") == "https://hooks.example.in/v2")
            #expect(shown["secret"] == nil)
            // The secret is sealed in the store.
            let stored = try #require(try await h.store.webhookEndpoint(tenantID: h.tenant.id))
            #expect(!String(decoding: stored.sealedSecret, as: UTF8.self).contains(String(second.dropFirst(6))))
            // A save that does not rotate (computed before a concurrent rotation) never puts its secret back.
            var stale = stored
            stale.sealedSecret = Array("an older sealed secret".utf8)
            stale.url = "https://hooks.example.in/v3"
            let after = try await h.store.saveWebhookEndpoint(stale, replacingSecret: false)
            #expect(after.sealedSecret == stored.sealedSecret)
            #expect(after.url == "https://hooks.example.in/v3")

            // Another tenant sees neither the endpoint nor its deliveries.
            #expect(try await client.get("/v1/webhook", key: .some(other.apiKey)).status == .notFound)
            #expect(try await client.call(.delete, "/v1/webhook", key: .some(other.apiKey)).status == .notFound)
            #expect(try await client.get("/v1/webhook/deliveries?limit=0").status == .unprocessableContent)

            #expect(try await client.call(.delete, "/v1/webhook").status == .noContent)
            #expect(try await client.get("/v1/webhook").status == .notFound)
        }
    }

    @Test func productionRefusesPlainHTTPEndpoints() async throws {
        let smtp = try await SMTPTestServer.start()
        let h = try await Harness.make(environment: DeliveryEndToEndTests.smtpEnvironment(smtp).merging(["OTPGATE_ENV": "production"]) { $1 })
        try await h.test { (client: TestClient) async throws in
            let refused = try await client.call(.put, "/v1/webhook", json: #"{"url":"http://hooks.example.in/otp"}"#)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.string("field") == "url")
            #expect(try await client.call(.put, "/v1/webhook", json: #"{"url":"https://hooks.example.in/otp"}"#).status == .created)
        }
    }
}
