import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Tenant B can neither read, check, resend, cancel nor verify anything of tenant A's.
@Suite struct TenantIsolationTests {
    @Test(arguments: Backend.available) func anotherTenantSeesNothing(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS": "0"])
        let b = try await h.makeTenant("globex")
        try await h.test { client in
            let id = try await client.start()
            await h.deliver()
            let code = try #require(h.sender.code(for: id))

            #expect(try await client.get("/v1/verifications/\(id)", key: .some(b.apiKey)).status == .notFound)
            #expect(try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#, key: .some(b.apiKey)).status == .notFound)
            #expect(try await client.post("/v1/verifications/\(id)/resend", key: .some(b.apiKey)).status == .notFound)
            #expect(try await client.post("/v1/verifications/\(id)/cancel", key: .some(b.apiKey)).status == .notFound)

            // Tenant A's verification is untouched by all of that.
            let shown = try await client.get("/v1/verifications/\(id)")
            #expect(shown.string("status") == "pending")
            #expect(shown.int("attempts_remaining") == 5)
            #expect(shown.int("sends") == 1)

            let approved = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#)
            let token = try #require(approved.string("token"))
            let asB = try await client.post("/v1/tokens/verify", #"{"token":"\#(token)","consume":true}"#, key: .some(b.apiKey))
            #expect(asB["valid"] == .bool(false))
            #expect(asB.string("reason") == "tenant_mismatch")
            // B's attempt to consume did not use the token up.
            #expect(try await client.post("/v1/tokens/verify", #"{"token":"\#(token)","consume":true}"#)["valid"] == .bool(true))
        }
    }

    @Test(arguments: Backend.available) func limitsAreCountedPerTenant(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let b = try await h.makeTenant("globex")
        try await h.test { client in
            for _ in 0..<5 { _ = try await client.start() }
            #expect(try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#).status == .tooManyRequests)
            #expect(try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#, key: .some(b.apiKey)).status == .created)
        }
    }

    /// One Idempotency-Key in two tenants names two requests: each tenant gets its own verification, and B's use of the
    /// key neither replays A's response nor counts as A's key reused.
    @Test(arguments: Backend.available) func idempotencyKeysArePerTenant(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let b = try await h.makeTenant("globex")
        try await h.test { client in
            let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "order-42"]
            let body = #"{"to":"+919876543210","channel":"sms"}"#
            let first = try await client.post("/v1/verifications", body, headers: headers)
            #expect(first.status == .created)
            let asB = try await client.post("/v1/verifications", body, key: .some(b.apiKey), headers: headers)
            #expect(asB.status == .created)
            #expect(asB.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            #expect(asB.string("id") != first.string("id"))
            // B's key with another body is B's own first use, not a reuse of A's.
            let otherBody = try await client.post(
                "/v1/verifications", #"{"to":"+919876543211","channel":"sms"}"#, key: .some(b.apiKey),
                headers: [HTTPField.Name("Idempotency-Key")!: "order-43"])
            #expect(otherBody.status == .created)
            // Each tenant's replay returns its own verification.
            let replayA = try await client.post("/v1/verifications", body, headers: headers)
            let replayB = try await client.post("/v1/verifications", body, key: .some(b.apiKey), headers: headers)
            #expect(replayA.string("id") == first.string("id"))
            #expect(replayB.string("id") == asB.string("id"))
            #expect(try await client.get("/v1/verifications/\(try #require(asB.string("id")))").status == .notFound)
            await h.deliver()
            #expect(h.sender.messages.count == 3)
        }
    }

    /// Failed checks in tenant A lock the number for A only: the same number in tenant B starts and approves.
    @Test(arguments: Backend.available) func lockoutsArePerTenant(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK": "2"])
        let b = try await h.makeTenant("globex")
        try await h.test { client in
            let id = try await client.start()
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            _ = try await client.check(id, wrongCode(for: code))
            _ = try await client.check(id, wrongCode(for: code))
            #expect(try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#).problemCode == "destination_locked")

            let idB = try await client.start(key: .some(b.apiKey))
            await h.deliver()
            let codeB = try #require(h.sender.code(for: idB))
            #expect(try await client.check(idB, codeB, key: .some(b.apiKey)).status == .ok)
            #expect(try await h.destinationState("+919876543210", tenantID: b.tenant.id)?.lockedUntil == nil)
            #expect(try await h.destinationState("+919876543210")?.lockedUntil != nil)
        }
    }
}
