import NIOCore
import HummingbirdTesting
import HTTPTypes
import Foundation
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
}
