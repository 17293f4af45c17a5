import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateServer

/// The native API over HTTP: the happy path and every refusal, with the clock moved by hand.
@Suite struct VerificationAPITests {
    @Test(arguments: Backend.available) func startCheckAndTokenRoundTrip(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let started = try await client.post(
                "/v1/verifications",
                #"{"to":"98765 43210","channel":"sms","purpose":"itr_unlock","reference":"case-7","context":{"amount":1500,"currency":"INR"}}"#)
            #expect(started.status == .created)
            #expect(started.string("status") == "pending")
            #expect(started.string("to") == "+91******3210")
            #expect(started.int("attempts_remaining") == 5)
            #expect(started.int("sends") == 1)
            #expect(started.string("expires_at") == Timestamp(seconds: 1_800_000_300).iso8601)
            #expect(started.string("resend_available_at") == Timestamp(seconds: 1_800_000_030).iso8601)
            let id = try #require(started.string("id"))
            #expect(id.hasPrefix("vrf_"))
            #expect(started.headers[.location] == "/v1/verifications/\(id)")

            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            #expect(code.count == 6)
            #expect(h.sender.messages.first?.destination == "+919876543210")

            let checked = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#)
            #expect(checked.status == .ok)
            #expect(checked.string("status") == "approved")
            let token = try #require(checked.string("token"))

            let verified = try await client.post("/v1/tokens/verify", #"{"token":"\#(token)","purpose":"itr_unlock"}"#)
            #expect(verified["valid"] == .bool(true))
            guard case .object(let claims)? = verified["claims"] else {
                Issue.record("no claims")
                return
            }
            #expect(claims["sub"] == .string(id))
            #expect(claims["phone_number"] == .string("+919876543210"))
            #expect(claims["phone_number_verified"] == .bool(true))
            #expect(claims["amr"] == .array([.string("otp"), .string("sms")]))
            #expect(claims["context"] == .object(["amount": .number(1500), "currency": .string("INR")]))
            #expect(claims["tenant_id"] == .string(h.tenant.id))
            #expect(claims["reference"] == .string("case-7"))
            #expect(claims["purpose"] == .string("itr_unlock"))

            let shown = try await client.get("/v1/verifications/\(id)")
            #expect(shown.string("status") == "approved")
            let again = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#)
            #expect(again.status == .conflict)
            #expect(again.problemCode == "already_approved")
        }
    }

    @Test(arguments: Backend.available) func wrongCodesCountAndSpentAttemptsRefuseEvenTheRightCode(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let id = try await client.start(extra: #","max_attempts":3"#)
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            let wrong = code == "000000" ? "111111" : "000000"
            for remaining in [2, 1, 0] {
                let r = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(wrong)"}"#)
                #expect(r.status == .unprocessableContent)
                #expect(r.problemCode == "incorrect_code")
                #expect(r.int("attempts_remaining") == remaining)
                #expect(r.headers[.contentType] == "application/problem+json")
            }
            let right = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#)
            #expect(right.status == .tooManyRequests)
            #expect(right.problemCode == "max_attempts_reached")
            #expect(try await client.get("/v1/verifications/\(id)").string("status") == "max_attempts_reached")
        }
    }

    @Test(arguments: Backend.available) func expiredVerificationAnswers410(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let id = try await client.start(extra: #","ttl_seconds":60"#)
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            h.clock.advance(.seconds(60))
            let r = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#)
            #expect(r.status == .gone)
            #expect(r.problemCode == "expired")
            #expect(try await client.get("/v1/verifications/\(id)").string("status") == "expired")
            #expect(try await client.post("/v1/verifications/\(id)/resend").status == .gone)
        }
    }

    @Test(arguments: Backend.available) func resendKeepsAttemptsInvalidatesOldCodeAndCoolsDown(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let id = try await client.start()
            await h.deliver()
            let first = try #require(h.sender.code(for: id))
            let wrong = first == "999999" ? "888888" : "999999"
            _ = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(wrong)"}"#)

            let early = try await client.post("/v1/verifications/\(id)/resend")
            #expect(early.status == .tooManyRequests)
            #expect(early.problemCode == "resend_cooldown")
            #expect(early.headers[.retryAfter] == "30")

            h.clock.advance(.seconds(30))
            let resent = try await client.post("/v1/verifications/\(id)/resend", #"{"channel":"sms"}"#)
            #expect(resent.status == .ok)
            #expect(resent.int("sends") == 2)
            #expect(resent.int("attempts_remaining") == 4)
            #expect(resent.string("resend_available_at") == (Timestamp(seconds: 1_800_000_030) + .seconds(60)).iso8601)
            await h.deliver()
            let second = try #require(h.sender.code(for: id))

            h.clock.advance(.seconds(59))
            let cooling = try await client.post("/v1/verifications/\(id)/resend")
            #expect(cooling.problemCode == "resend_cooldown")
            #expect(cooling.headers[.retryAfter] == "1")

            // The seeded randomness gives two different codes, so the old one is really tried.
            try #require(first != second)
            let old = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(first)"}"#)
            #expect(old.problemCode == "incorrect_code")
            #expect(old.int("attempts_remaining") == 3)
            #expect(try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(second)"}"#).status == .ok)
        }
    }

    @Test(arguments: Backend.available) func sendsAreCapped(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS": "0"])
        try await h.test { client in
            let id = try await client.start()
            for sends in 2...5 {
                let r = try await client.post("/v1/verifications/\(id)/resend")
                #expect(r.int("sends") == sends)
            }
            let capped = try await client.post("/v1/verifications/\(id)/resend")
            #expect(capped.status == .tooManyRequests)
            #expect(capped.problemCode == "max_sends_reached")
        }
    }

    @Test(arguments: Backend.available) func resendToAnotherChannelIsRefused(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let id = try await client.start()
            h.clock.advance(.seconds(30))
            let r = try await client.post("/v1/verifications/\(id)/resend", #"{"channel":"email"}"#)
            #expect(r.status == .unprocessableContent)
            #expect(r.string("field") == "channel")
        }
    }

    @Test(arguments: Backend.available) func cancelEndsTheVerification(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let id = try await client.start()
            let canceled = try await client.post("/v1/verifications/\(id)/cancel")
            #expect(canceled.status == .ok)
            #expect(canceled.string("status") == "canceled")
            let check = try await client.post("/v1/verifications/\(id)/check", #"{"code":"123456"}"#)
            #expect(check.status == .conflict)
            #expect(check.problemCode == "canceled")
            #expect(try await client.post("/v1/verifications/\(id)/cancel").problemCode == "canceled")
            // The undelivered code is erased, never sent.
            await h.deliver()
            #expect(h.sender.messages.isEmpty)
        }
    }

    @Test(arguments: Backend.available) func emailVerification(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let r = try await client.post("/v1/verifications", #"{"to":"Priya.Sharma@Example.COM","channel":"email","code_length":8}"#)
            #expect(r.status == .created)
            #expect(r.string("to") == "p***@e******.com")
            let id = try #require(r.string("id"))
            await h.deliver()
            let message = try #require(h.sender.messages.last)
            // The canonical form (issue 12): the whole address lowercased is where the message goes and what the token says.
            #expect(message.destination == "priya.sharma@example.com")
            #expect(message.subject != nil)
            let code = try #require(h.sender.code(for: id))
            #expect(code.count == 8)
            let checked = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#)
            let token = try #require(checked.string("token"))
            let claims = try await client.post("/v1/tokens/verify", #"{"token":"\#(token)"}"#)
            guard case .object(let c)? = claims["claims"] else {
                Issue.record("no claims")
                return
            }
            #expect(c["email"] == .string("priya.sharma@example.com"))
            #expect(c["email_verified"] == .bool(true))
            #expect(c["amr"] == .array([.string("otp"), .string("email")]))
        }
    }

    @Test(arguments: Backend.available) func unknownIdsAre404(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            for path in [
                "/v1/verifications/vrf_aaaaaaaaaaaaaaaaaaaaaaaaaa", "/v1/verifications/nonsense",
                "/v1/verifications/\(String(repeating: "x", count: 500))",
            ] {
                let r = try await client.get(path)
                #expect(r.status == .notFound)
                #expect(r.problemCode == "not_found")
            }
            #expect(try await client.post("/v1/verifications/vrf_aaaaaaaaaaaaaaaaaaaaaaaaaa/check", #"{"code":"123456"}"#).status == .notFound)
            #expect(try await client.post("/v1/verifications/vrf_aaaaaaaaaaaaaaaaaaaaaaaaaa/resend").status == .notFound)
            #expect(try await client.post("/v1/verifications/vrf_aaaaaaaaaaaaaaaaaaaaaaaaaa/cancel").status == .notFound)
            #expect(try await client.get("/v2/anything").problemCode == "not_found")
        }
    }

    /// A verification whose attempts are spent can still be canceled (the client gives up cleanly).
    @Test(arguments: Backend.available) func spentAttemptsCanStillBeCanceled(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let id = try await client.start(extra: #","max_attempts":1"#)
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            #expect(try await client.check(id, wrongCode(for: code)).problemCode == "incorrect_code")
            #expect(try await client.check(id, code).problemCode == "max_attempts_reached")
            let canceled = try await client.post("/v1/verifications/\(id)/cancel")
            #expect(canceled.status == .ok)
            #expect(canceled.string("status") == "canceled")
            #expect(try await client.get("/v1/verifications/\(id)").string("status") == "canceled")
        }
    }

    /// Once past its expiry a verification is `expired`, whatever else is true of it: spent attempts do not hide it.
    @Test(arguments: Backend.available) func expiryTakesPrecedenceOverSpentAttempts(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let id = try await client.start(extra: #","max_attempts":1,"ttl_seconds":60"#)
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            #expect(try await client.check(id, wrongCode(for: code)).problemCode == "incorrect_code")
            #expect(try await client.get("/v1/verifications/\(id)").string("status") == "max_attempts_reached")
            h.clock.advance(.seconds(60))
            let late = try await client.check(id, code)
            #expect(late.status == .gone)
            #expect(late.problemCode == "expired")
            #expect(try await client.get("/v1/verifications/\(id)").string("status") == "expired")
            #expect(try await client.post("/v1/verifications/\(id)/resend").problemCode == "expired")
            #expect(try await client.post("/v1/verifications/\(id)/cancel").problemCode == "expired")
        }
    }
}
