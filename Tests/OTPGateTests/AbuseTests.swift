import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Issue 16's first defences: phone numbers outside the allowed countries are refused before anything is written, and
/// each client (address, fingerprint) of a tenant has its own start limit, counted in the store.
@Suite(.timeLimit(.minutes(3))) struct AbuseTests {
    @Test func phoneNumbersOutsideTheAllowedCountriesAreRefused() async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            let refused = try await client.post("/v1/verifications", #"{"to":"+14155550123","channel":"sms"}"#)
            #expect(refused.status == .forbidden)
            #expect(refused.string("type")?.hasSuffix("destination_not_allowed") == true)
            #expect(refused.string("field") == "to")
            #expect(!(refused.string("detail") ?? "").contains("4155550123"))
            // A fallback or dual phone outside them too; email is not a country.
            let fallback = try await client.post(
                "/v1/verifications", #"{"to":"a@b.in","channel":"email","to_phone":"+447911123456","fallback":["sms"]}"#)
            #expect(fallback.status == .forbidden)
            #expect(try await client.post("/v1/verifications", #"{"to":"a@b.in","channel":"email"}"#).status == .created)
            #expect(try await client.post("/v1/verifications", #"{"to":"9876543210","channel":"sms"}"#).status == .created)
            await h.deliver()
            #expect(h.sender.messages.count == 2)
        }
        // `*` for a deployment that sends anywhere; the setting's values are checked at start-up.
        let anywhere = try await Harness.make(environment: ["OTPGATE_POLICY_ALLOWED_COUNTRIES": "*"])
        try await anywhere.test { (client: TestClient) async throws in
            #expect(try await client.post("/v1/verifications", #"{"to":"+447911123456","channel":"sms"}"#).status == .created)
        }
        #expect(throws: (any Error).self) { try ServerSettings(environment: ["OTPGATE_POLICY_ALLOWED_COUNTRIES": "91,abc"]) }
        #expect(throws: (any Error).self) { try ServerSettings(environment: ["OTPGATE_POLICY_ALLOWED_COUNTRIES": " , "]) }
        #expect(try ServerSettings(environment: ["OTPGATE_POLICY_ALLOWED_COUNTRIES": "+91, 971"]).policy.allowedCountries == ["91", "971"])
    }

    @Test func aTenantsOwnCountryListApplies() async throws {
        let h = try await Harness.make()
        var overrides = PolicyOverrides()
        overrides.allowedCountries = ["91", "1"]
        #expect(try await h.store.updateTenantPolicy(id: h.tenant.id, overrides: overrides))
        try await h.test { (client: TestClient) async throws in
            #expect(try await client.post("/v1/verifications", #"{"to":"+14155550123","channel":"sms"}"#).status == .created)
            #expect(try await client.post("/v1/verifications", #"{"to":"+447911123456","channel":"sms"}"#).status == .forbidden)
        }
    }

    @Test(arguments: Backend.available) func eachClientAddressAndFingerprintHasItsOwnLimit(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend,
            environment: ["OTPGATE_POLICY_STARTS_PER_CLIENT_IP": "3", "OTPGATE_POLICY_STARTS_PER_CLIENT_FINGERPRINT": "2"])
        let other = try await h.makeTenant("other")
        try await h.test { (client: TestClient) async throws in
            var n = 0
            func start(_ extra: String, key: String?? = .none) async throws -> APIResponse {
                n += 1
                return try await client.post(
                    "/v1/verifications", #"{"to":"+91987650\#(String(format: "%04d", n))","channel":"sms"\#(extra)}"#, key: key)
            }
            for _ in 0..<3 { #expect(try await start(#","client_ip":"203.0.113.7""#).status == .created) }
            let limited = try await start(#","client_ip":"203.0.113.7""#)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.string("type")?.hasSuffix("client_rate_limited") == true)
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 > 0)
            // A sweep in the middle of the window keeps the count.
            h.clock.advance(.seconds(120))
            await h.runtime.sweeper.sweepOnce()
            #expect(try await start(#","client_ip":"203.0.113.7""#).status == .tooManyRequests)
            // The same address written as IPv4-mapped IPv6 is the same client; another address is another.
            #expect(try await start(#","client_ip":"::ffff:203.0.113.7""#).status == .tooManyRequests)
            #expect(try await start(#","client_ip":"2001:db8::1""#).status == .created)
            // Another tenant's clients are counted apart.
            #expect(try await start(#","client_ip":"203.0.113.7""#, key: .some(other.apiKey)).status == .created)

            #expect(try await start(#","client_fingerprint":"device-42""#).status == .created)
            #expect(try await start(#","client_fingerprint":"device-42""#).status == .created)
            #expect(try await start(#","client_fingerprint":"device-42","client_ip":"2001:db8::2""#).status == .tooManyRequests)

            // The window ends and the client may start again; the address is kept only as a keyed blind index.
            h.clock.advance(.seconds(480))
            #expect(try await start(#","client_ip":"203.0.113.7""#).status == .created)

            for (body, field) in [
                (#","client_ip":"999.1.1.1""#, "client_ip"), (#","client_ip":"example.com""#, "client_ip"),
                (#","client_fingerprint":"""#, "client_fingerprint"), (#","client_ip":5"#, "client_ip"),
            ] {
                let refused = try await start(body)
                #expect(refused.status == .unprocessableContent, "\(body)")
                #expect(refused.string("field") == field, "\(body)")
            }
        }
    }
}
