import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Every bad input gets a clear problem naming what is wrong, never a 500, and changes nothing.
@Suite struct InputValidationTests {
    @Test(arguments: [
        (#"{"to":"+919876543210"}"#, "channel"),
        (#"{"to":"+919876543210","channel":"fax"}"#, "channel"),
        (#"{"to":"+919876543210","channel":7}"#, "channel"),
        (#"{"channel":"sms"}"#, "to"),
        (#"{"to":12345,"channel":"sms"}"#, "to"),
        (#"{"to":"12345","channel":"sms"}"#, "to"),
        (#"{"to":"+91 12345 67890","channel":"sms"}"#, "to"),
        (#"{"to":"+919876543210; DROP","channel":"sms"}"#, "to"),
        (#"{"to":"a@b.com\r\nBcc: x@y.com","channel":"email"}"#, "to"),
        (#"{"to":"a@b.com,c@d.com","channel":"email"}"#, "to"),
        (#"{"to":"a@@b.com","channel":"email"}"#, "to"),
        (#"{"to":"not-an-email","channel":"email"}"#, "to"),
        (#"{"to":"+919876543210","channel":"email"}"#, "to"),
        (#"{"to":"+919876543210","channel":"sms","code_length":3}"#, "code_length"),
        (#"{"to":"+919876543210","channel":"sms","code_length":11}"#, "code_length"),
        (#"{"to":"+919876543210","channel":"sms","code_length":6.5}"#, "code_length"),
        (#"{"to":"+919876543210","channel":"sms","code_length":"6"}"#, "code_length"),
        (#"{"to":"+919876543210","channel":"sms","ttl_seconds":29}"#, "ttl_seconds"),
        (#"{"to":"+919876543210","channel":"sms","ttl_seconds":601}"#, "ttl_seconds"),
        (#"{"to":"+919876543210","channel":"sms","max_attempts":0}"#, "max_attempts"),
        (#"{"to":"+919876543210","channel":"sms","max_attempts":11}"#, "max_attempts"),
        (#"{"to":"+919876543210","channel":"sms","purpose":"bad purpose!"}"#, "purpose"),
        (#"{"to":"+919876543210","channel":"sms","locale":"english please"}"#, "locale"),
        (#"{"to":"+919876543210","channel":"sms","context":"amount=5"}"#, "context"),
        (#"{"to":"+919876543210","channel":"sms","reference":"a\u0000b"}"#, "reference"),
        (#"{"to":"+919876543210","channel":"sms","ttl":60}"#, "ttl"),
    ])
    func startRejects(body: String, field: String) async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let r = try await client.post("/v1/verifications", body)
            #expect(r.status == .unprocessableContent, "\(body)")
            #expect(r.string("field") == field, "\(body)")
            #expect(r.headers[.contentType] == "application/problem+json")
            // The problem never echoes the destination.
            #expect(r.string("detail")?.contains("9876543210") == false)
        }
        await h.deliver()
        #expect(h.sender.messages.isEmpty)
    }

    @Test func contextIsLimitedTo2KiB() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let big = String(repeating: "x", count: 2100)
            let r = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms","context":{"note":"\#(big)"}}"#)
            #expect(r.status == .unprocessableContent)
            #expect(r.string("field") == "context")
        }
    }

    @Test(arguments: [
        "{", "[1,2]", "\"text\"", "nul", "{\"to\":}", "\u{FF}\u{FE}", String(repeating: "[", count: 60_000),
        "{\"context\":" + String(repeating: "{\"a\":", count: 10_000) + "1" + String(repeating: "}", count: 10_001),
    ])
    func malformedJSONIs400(body: String) async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let r = try await client.post("/v1/verifications", body)
            #expect(r.status == .badRequest)
            #expect(r.problemCode == "malformed_json")
        }
    }

    @Test func oversizedBodyIs413() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let r = try await client.post("/v1/verifications", #"{"to":"\#(String(repeating: "9", count: 70_000))"}"#)
            #expect(r.status == .contentTooLarge)
            #expect(r.problemCode == "payload_too_large")
        }
    }

    @Test(arguments: [#"{"code":"12"}"#, #"{"code":"12345678901"}"#, #"{"code":"12ab56"}"#, #"{"code":123456}"#, "{}", #"{"code":"١٢٣٤٥٦"}"#])
    func malformedCodesAreRefusedWithoutCountingAnAttempt(body: String) async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let id = try await client.start()
            let r = try await client.post("/v1/verifications/\(id)/check", body)
            #expect(r.status == .unprocessableContent)
            #expect(r.string("field") == "code")
            #expect(try await client.get("/v1/verifications/\(id)").int("attempts_remaining") == 5)
        }
    }

    @Test func authenticationIsRequired() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            for key: String? in [nil, "otpg_wrong", "otpg_" + String(repeating: "a", count: 52), "", "Basic abc"] {
                let r = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#, key: .some(key))
                #expect(r.status == .unauthorized)
                #expect(r.problemCode == "unauthorized")
            }
            let basic = try await client.call(
                .post, "/v1/verifications", json: "{}", key: .some(nil), headers: [.authorization: "Basic Zm9vOmJhcg=="])
            #expect(basic.status == .unauthorized)
        }
    }

    @Test(arguments: Backend.available) func revokedKeysStopWorking(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let extra = try await TenantAdmin(store: h.store, clock: h.clock, random: SeededRandom(seed: 9)).createKey(tenantID: h.tenant.id)
        #expect(try await h.store.principal(forKeyHash: APIKey.hash(extra.apiKey)) != nil)
        #expect(try await h.store.revokeAPIKey(id: extra.keyID, at: h.clock.now()))
        #expect(try await h.store.principal(forKeyHash: APIKey.hash(extra.apiKey)) == nil)
        #expect(try await h.store.revokeAPIKey(id: extra.keyID, at: h.clock.now()) == false)
        try await h.test { client in
            let r = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#, key: .some(extra.apiKey))
            #expect(r.status == .unauthorized)
        }
    }

    /// A key in use (its principal cached by the server) stops working within the cache lifetime of its revocation.
    @Test(arguments: Backend.available) func aKeyInUseStopsWorkingWithinTheCacheLifetimeOfItsRevocation(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let ttl = h.runtime.settings.principalCacheTTL
        let extra = try await TenantAdmin(store: h.store, clock: h.clock, random: SeededRandom(seed: 9)).createKey(tenantID: h.tenant.id)
        try await h.test { client in
            let id = try await client.start(key: .some(extra.apiKey))
            #expect(try await h.store.revokeAPIKey(id: extra.keyID, at: h.clock.now()))
            // Served from the cache until it lapses: authentication costs no database read per request.
            h.clock.advance(ttl - .milliseconds(1))
            #expect(try await client.get("/v1/verifications/\(id)", key: .some(extra.apiKey)).status == .ok)
            h.clock.advance(.milliseconds(1))
            let refused = try await client.get("/v1/verifications/\(id)", key: .some(extra.apiKey))
            #expect(refused.status == .unauthorized)
            #expect(refused.problemCode == "unauthorized")
            // The tenant's other key is untouched.
            #expect(try await client.get("/v1/verifications/\(id)").status == .ok)
        }
    }

    /// A tenant policy changed by the operator applies to a key in use within the same lifetime.
    @Test(arguments: Backend.available) func aTenantPolicyChangeAppliesWithinTheCacheLifetime(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let ttl = h.runtime.settings.principalCacheTTL
        try await h.test { client in
            _ = try await client.start()
            var overrides = PolicyOverrides()
            overrides.startsPerDestination = 1
            #expect(try await h.store.updateTenantPolicy(id: h.tenant.id, overrides: overrides))
            h.clock.advance(ttl)
            let limited = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.problemCode == "rate_limited")
            #expect(limited.string("scope") == "destination")
        }
    }

    @Test(arguments: Backend.available) func idempotencyKeyReplaysTheFirstResponseAndSendsOnce(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let body = #"{"to":"+919876543210","channel":"sms"}"#
            let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "order-42"]
            let first = try await client.post("/v1/verifications", body, headers: headers)
            h.clock.advance(.seconds(10))
            let second = try await client.post("/v1/verifications", body, headers: headers)
            #expect(first.status == .created)
            #expect(second.status == .created)
            #expect(first.json == second.json)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            await h.deliver()
            #expect(h.sender.messages.count == 1)

            let other = try await client.post("/v1/verifications", #"{"to":"+919876543211","channel":"sms"}"#, headers: headers)
            #expect(other.status == .unprocessableContent)
            #expect(other.problemCode == "idempotency_key_reused")

            let bad = try await client.post(
                "/v1/verifications", body, headers: [HTTPField.Name("Idempotency-Key")!: String(repeating: "k", count: 300)])
            #expect(bad.problemCode == "invalid_header")

            // After 24 hours the key may be used again, for a new verification.
            h.clock.advance(.seconds(86_400))
            let later = try await client.post("/v1/verifications", body, headers: headers)
            #expect(later.status == .created)
            #expect(later.string("id") != first.string("id"))
        }
    }
}
