import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateServer

/// The error contract of the native API, one error at a time: each leaves as `application/problem+json` with its
/// HTTP status, its stable `code`, the request's id, and `retry_after` exactly when a `Retry-After` header says when to
/// come back.
@Suite struct ProblemTests {
    /// Asserts the whole problem shape of `r`.
    func expectProblem(
        _ r: APIResponse, _ status: HTTPResponse.Status, _ code: String, retryAfter: Int? = nil, field: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(r.status == status, "\(code): \(r.status)", sourceLocation: sourceLocation)
        #expect(r.headers[.contentType] == "application/problem+json", "\(code)", sourceLocation: sourceLocation)
        #expect(r.problemCode == code, "expected \(code), got \(String(describing: r.problemCode))", sourceLocation: sourceLocation)
        #expect(r.string("type") == "urn:otpgate:problem:\(code)", sourceLocation: sourceLocation)
        #expect(r.int("status") == Int(status.code), "\(code)", sourceLocation: sourceLocation)
        #expect(r.string("title")?.isEmpty == false, "\(code)", sourceLocation: sourceLocation)
        #expect(r.string("detail")?.isEmpty == false, "\(code)", sourceLocation: sourceLocation)
        let requestID = r.headers[HTTPField.Name("X-Request-Id")!]
        #expect(requestID != nil && r.string("request_id") == requestID, "\(code): request_id", sourceLocation: sourceLocation)
        #expect(r.headers[.retryAfter] == retryAfter.map(String.init), "\(code): Retry-After", sourceLocation: sourceLocation)
        #expect(r.int("retry_after") == retryAfter, "\(code): retry_after", sourceLocation: sourceLocation)
        #expect(r.string("field") == field, "\(code): field", sourceLocation: sourceLocation)
    }

    @Test(arguments: Backend.available) func everyErrorHasItsStatusCodeRequestIDAndRetryAfter(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend,
            environment: [
                "OTPGATE_POLICY_STARTS_PER_DESTINATION": "2", "OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK": "3",
                "OTPGATE_POLICY_MAX_SENDS": "2", "OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "1000",
            ])
        let slow = try await h.makeTenant("globex")
        var overrides = PolicyOverrides()
        overrides.requestsPerKeyPerSecond = 1
        #expect(try await h.store.updateTenantPolicy(id: slow.tenant.id, overrides: overrides))
        try await h.test { client in
            // Refused at the edge.
            expectProblem(
                try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#, key: .some(nil)), .unauthorized, "unauthorized"
            )
            expectProblem(try await client.post("/v1/verifications", "{"), .badRequest, "malformed_json")
            expectProblem(
                try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"fax"}"#), .unprocessableContent, "invalid_field",
                field: "channel")
            expectProblem(
                try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms","ttl":60}"#), .unprocessableContent,
                "unknown_field", field: "ttl")
            expectProblem(
                try await client.post(
                    "/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#,
                    headers: [HTTPField.Name("Idempotency-Key")!: String(repeating: "k", count: 256)]),
                .unprocessableContent, "invalid_header", field: "Idempotency-Key")
            expectProblem(try await client.post("/v1/verifications", String(repeating: " ", count: 70_000)), .contentTooLarge, "payload_too_large")
            expectProblem(try await client.get("/v1/verifications/vrf_aaaaaaaaaaaaaaaaaaaaaaaaaa"), .notFound, "not_found")
            expectProblem(try await client.get("/v1/nothing-here"), .notFound, "not_found")

            // Refused by the engine.
            let a = try await client.start(to: "+919800000001")
            expectProblem(try await client.post("/v1/verifications/\(a)/resend"), .tooManyRequests, "resend_cooldown", retryAfter: 30)
            expectProblem(
                try await client.post("/v1/verifications/\(a)/resend", #"{"channel":"email"}"#), .unprocessableContent, "invalid_field",
                field: "channel")
            await h.deliver()
            let codeA = try #require(h.sender.code(for: a))
            let wrong = try await client.check(a, wrongCode(for: codeA))
            expectProblem(wrong, .unprocessableContent, "incorrect_code")
            #expect(wrong.int("attempts_remaining") == 4)
            h.clock.advance(.seconds(30))
            #expect(try await client.post("/v1/verifications/\(a)/resend").status == .ok)
            h.clock.advance(.seconds(60))
            expectProblem(try await client.post("/v1/verifications/\(a)/resend"), .tooManyRequests, "max_sends_reached")

            _ = try await client.start(to: "+919800000001")
            expectProblem(
                try await client.post("/v1/verifications", #"{"to":"+919800000001","channel":"sms"}"#), .tooManyRequests, "rate_limited",
                retryAfter: 510)

            let b = try await client.start(to: "+919800000002", extra: #","max_attempts":1"#)
            await h.deliver()
            let codeB = try #require(h.sender.code(for: b))
            _ = try await client.check(b, wrongCode(for: codeB))
            expectProblem(try await client.check(b, codeB), .tooManyRequests, "max_attempts_reached")

            let c = try await client.start(to: "+919800000003", extra: #","ttl_seconds":30"#)
            h.clock.advance(.seconds(30))
            expectProblem(try await client.check(c, "123456"), .gone, "expired")

            let d = try await client.start(to: "+919800000004")
            #expect(try await client.post("/v1/verifications/\(d)/cancel").status == .ok)
            expectProblem(try await client.check(d, "123456"), .conflict, "canceled")

            let e = try await client.start(to: "+919800000005")
            await h.deliver()
            let codeE = try #require(h.sender.code(for: e))
            #expect(try await client.check(e, codeE).status == .ok)
            expectProblem(try await client.check(e, codeE), .conflict, "already_approved")

            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "order-7"]
            #expect(try await client.post("/v1/verifications", #"{"to":"+919800000006","channel":"sms"}"#, headers: key).status == .created)
            expectProblem(
                try await client.post("/v1/verifications", #"{"to":"+919800000007","channel":"sms"}"#, headers: key), .unprocessableContent,
                "idempotency_key_reused")

            let f = try await client.start(to: "+919800000008")
            await h.deliver()
            let codeF = try #require(h.sender.code(for: f))
            for _ in 0..<3 { #expect(try await client.check(f, wrongCode(for: codeF)).problemCode == "incorrect_code") }
            expectProblem(
                try await client.post("/v1/verifications", #"{"to":"+919800000008","channel":"sms"}"#), .tooManyRequests, "destination_locked",
                retryAfter: 3600)

            h.clock.advance(.milliseconds(200))
            #expect(try await client.get("/v1/verifications/\(f)", key: .some(slow.apiKey)).status == .notFound)
            let limited = try await client.get("/v1/verifications/\(f)", key: .some(slow.apiKey))
            expectProblem(limited, .tooManyRequests, "rate_limited", retryAfter: 1)
            #expect(limited.string("scope") == "api_key")
        }
    }
}
