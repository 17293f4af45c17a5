import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Issue 16's conversion guard: a number prefix with many sends and few approvals in the sliding hour is held, in the
/// store, while prefixes whose codes are checked keep working.
@Suite(.timeLimit(.minutes(5))) struct PumpingGuardTests {
    static func phone(_ prefix: String, _ n: Int) -> String { "+91\(prefix)00\(String(format: "%06d", n))" }

    @Test(arguments: Backend.available) func aSyntheticAttackIsHeldWhileACheckedPrefixKeepsWorking(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "100000"])
        let other = try await h.makeTenant("other")
        try await h.test { (client: TestClient) async throws in
            #expect(try await client.call(.put, "/v1/webhook", json: #"{"url":"http://127.0.0.1:9/hooks"}"#).status == .created)
            var admitted = 0
            var refused: [APIResponse] = []
            for i in 0..<150 {
                // The attack: premium-rate numbers under +9170, never checked.
                let attack = try await client.post("/v1/verifications", #"{"to":"\#(Self.phone("70", i))","channel":"sms"}"#)
                if attack.status == .created { admitted += 1 } else { refused.append(attack) }
                // Real users under +9198: as many sends, every other code checked (50 % approved).
                if i < 120 {
                    let id = try await client.start(to: Self.phone("98", i))
                    if i % 2 == 0 {
                        await h.deliver()
                        let code = try #require(h.sender.code(for: id))
                        #expect(try await client.check(id, code).status == .ok)
                    }
                }
            }
            // Exactly the configured volume of unanswered sends went out; the rest were held.
            #expect(admitted == 100)
            #expect(refused.count == 50)
            #expect(refused.allSatisfy { $0.status == .tooManyRequests && $0.string("type")?.hasSuffix("suspected_pumping") == true })
            let wait = Int(refused.last?.headers[.retryAfter] ?? "") ?? 0
            #expect((3000...3600).contains(wait))
            let detail = refused.last?.string("detail") ?? ""
            #expect(detail.contains("suspected") || detail.contains("held"))
            #expect(detail.contains("7000") == false)

            // The hold is listed (prefix only), counted, and reported once to the tenant's webhook.
            let holds = try await client.get("/v1/abuse/holds")
            let listed = try #require(holds.json?.member("holds")?.items)
            #expect(listed.count == 1)
            #expect(listed.first?.member("prefix") == .string("+9170"))
            #expect(listed.first?.member("sends")?.intValue == 100)
            #expect(listed.first?.member("approved")?.intValue == 0)
            let events = try await h.store.webhookEvents(tenantID: h.tenant.id, limit: 200).filter { $0.type == .pumpingSuspected }
            #expect(events.count == 1)
            let body = String(decoding: try #require(events.first).body, as: UTF8.self)
            #expect(body.contains(#""prefix":"+9170""#) && !body.contains("verification_id") && !body.contains("70000"))
            #expect(h.metricsText.contains(#"otpgate_abuse_holds_total{reason="suspected_pumping"} 1"#))
            #expect(h.metricsText.contains(#"otpgate_starts_refused_total{reason="suspected_pumping"} 50"#))

            // Another tenant's starts to the same prefix are judged on its own traffic.
            #expect(
                try await client.post("/v1/verifications", #"{"to":"\#(Self.phone("70", 999))","channel":"sms"}"#, key: .some(other.apiKey)).status
                    == .created)
            #expect(try #require(try await client.get("/v1/abuse/holds", key: .some(other.apiKey)).json?.member("holds")?.items).isEmpty)

            // An hour on (a sweep in between keeps the hold), the hold has ended and the sliding hour is empty.
            h.clock.advance(.seconds(1800))
            await h.runtime.sweeper.sweepOnce()
            #expect(try await client.post("/v1/verifications", #"{"to":"\#(Self.phone("70", 500))","channel":"sms"}"#).status == .tooManyRequests)
            h.clock.advance(.seconds(1801))
            await h.runtime.sweeper.sweepOnce()
            #expect(try await client.post("/v1/verifications", #"{"to":"\#(Self.phone("70", 501))","channel":"sms"}"#).status == .created)
            #expect(try #require(try await client.get("/v1/abuse/holds").json?.member("holds")?.items).isEmpty)
        }
    }

    @Test func aTenantsSettingsApplyAndAHoldCanBeReleased() async throws {
        let h = try await Harness.make()
        var overrides = PolicyOverrides()
        overrides.pumpingMinSends = 5
        overrides.pumpingMinApprovalPercent = 50
        overrides.startsPerDestination = 1
        #expect(try await h.store.updateTenantPolicy(id: h.tenant.id, overrides: overrides))
        let off = try await h.makeTenant("guard off")
        var offOverrides = PolicyOverrides()
        offOverrides.pumpingGuard = false
        offOverrides.pumpingMinSends = 5
        #expect(try await h.store.updateTenantPolicy(id: off.tenant.id, overrides: offOverrides))
        try await h.test { (client: TestClient) async throws in
            // Two approved of five is under 50 %: the sixth start is held. Email is never judged.
            for i in 0..<5 {
                let id = try await client.start(to: Self.phone("81", i))
                // A start refused by a later rule (the destination's own limit) sent nothing and is not counted.
                if i == 0 {
                    let again = try await client.post("/v1/verifications", #"{"to":"\#(Self.phone("81", 0))","channel":"sms"}"#)
                    #expect(again.string("type")?.hasSuffix("rate_limited") == true)
                }
                if i < 2 {
                    await h.deliver()
                    #expect(try await client.check(id, try #require(h.sender.code(for: id))).status == .ok)
                }
            }
            #expect(try await client.post("/v1/verifications", #"{"to":"\#(Self.phone("81", 5))","channel":"sms"}"#).status == .tooManyRequests)
            // A dual start's phone is judged as well.
            let dual = try await client.post(
                "/v1/verifications", #"{"to":"\#(Self.phone("81", 6))","channel":"dual","to_email":"a@example.com"}"#)
            #expect(dual.string("type")?.hasSuffix("suspected_pumping") == true)
            for i in 0..<8 {
                #expect(try await client.post("/v1/verifications", #"{"to":"u\#(i)@example.com","channel":"email"}"#).status == .created)
            }

            // Bad prefixes are named; an unheld one is 404; a release admits starts again and judges the prefix afresh.
            #expect(try await client.call(.delete, "/v1/abuse/holds/abc").status == .unprocessableContent)
            #expect(try await client.call(.delete, "/v1/abuse/holds/+9199").status == .notFound)
            #expect(try await client.call(.delete, "/v1/abuse/holds/+9181").status == .noContent)
            #expect(try await client.call(.delete, "/v1/abuse/holds/9181").status == .notFound)
            #expect(try await client.post("/v1/verifications", #"{"to":"\#(Self.phone("81", 7))","channel":"sms"}"#).status == .created)

            // A tenant with the guard off is never held.
            for i in 0..<10 {
                let r = try await client.post("/v1/verifications", #"{"to":"\#(Self.phone("82", i))","channel":"sms"}"#, key: .some(off.apiKey))
                #expect(r.status == .created)
            }
        }
        // The deployment's switch and bounds are read at start-up.
        #expect(try ServerSettings(environment: ["OTPGATE_POLICY_PUMPING_GUARD": "off"]).policy.pumpingGuard == false)
        #expect(try ServerSettings(environment: [:]).policy.pumpingGuard == true)
        #expect(throws: (any Error).self) { try ServerSettings(environment: ["OTPGATE_POLICY_PUMPING_GUARD": "maybe"]) }
        #expect(throws: (any Error).self) { try ServerSettings(environment: ["OTPGATE_POLICY_PUMPING_MIN_APPROVAL_PERCENT": "0"]) }
    }

    @Test(arguments: Backend.available) func aHoldShorterThanTheHourJudgesOnlyWhatCameAfterIt(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend, environment: ["OTPGATE_POLICY_PUMPING_MIN_SENDS": "5", "OTPGATE_POLICY_PUMPING_HOLD_SECONDS": "300"])
        try await h.test { (client: TestClient) async throws in
            func start(_ n: Int) async throws -> HTTPResponse.Status {
                try await client.post("/v1/verifications", #"{"to":"\#(Self.phone("77", n))","channel":"sms"}"#).status
            }
            for i in 0..<5 { #expect(try await start(i) == .created) }
            #expect(try await start(5) == .tooManyRequests)
            // The hold ends while its sends are still in the hour: they led to one hold and are not judged again.
            h.clock.advance(.seconds(301))
            for i in 6..<11 { #expect(try await start(i) == .created) }
            #expect(try await start(11) == .tooManyRequests)
        }
    }

    @Test func prefixesAreTheCountryCodeAndTwoNationalDigits() {
        func prefix(_ phone: String) -> String? { PumpingGuard.prefix(of: Destination(unchecked: phone, channel: .sms)) }
        #expect(prefix("+919876543210") == "+9198")
        #expect(prefix("+14155550123") == "+141")
        #expect(prefix("+447911123456") == "+4479")
        #expect(prefix("+971501234567") == "+97150")
        #expect(prefix("+79161234567") == "+791")
        #expect(PumpingGuard.prefix(of: Destination(unchecked: "a@b.in", channel: .email)) == nil)
    }
}

extension JSONValue {
    fileprivate var items: [JSONValue]? {
        guard case .array(let items) = self else { return nil }
        return items
    }
}
