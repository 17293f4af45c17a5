import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Per-destination start limits, lockouts after failed checks, and per-key request limits, with an injected clock.
@Suite struct LimitsTests {
    @Test(arguments: Backend.available) func startsPerDestinationAreLimitedInASlidingWindow(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            for _ in 0..<5 {
                _ = try await client.start()
                h.clock.advance(.seconds(60))
            }
            let limited = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.problemCode == "rate_limited")
            #expect(limited.string("scope") == "destination")
            // The oldest start was 300 s ago; its slot frees 300 s from now.
            #expect(limited.headers[.retryAfter] == "300")
            // Another destination is unaffected; the same number in another form is the same destination.
            #expect(try await client.post("/v1/verifications", #"{"to":"+919876543211","channel":"sms"}"#).status == .created)
            #expect(try await client.post("/v1/verifications", #"{"to":"09876543210","channel":"sms"}"#).status == .tooManyRequests)
            h.clock.advance(.seconds(300))
            #expect(try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#).status == .created)
        }
    }

    @Test(arguments: Backend.available) func tenantPolicyOverridesTheDefault(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        var overrides = PolicyOverrides()
        overrides.startsPerDestination = 2
        #expect(try await h.store.updateTenantPolicy(id: h.tenant.id, overrides: overrides))
        try await h.test { client in
            _ = try await client.start()
            _ = try await client.start()
            #expect(try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#).status == .tooManyRequests)
        }
    }

    /// A destination has a record only once a check fails against it: starts lock destinations without writing a row
    /// each (on PostgreSQL an advisory lock), so the table does not grow with every number ever started.
    @Test(arguments: Backend.available) func aStartWritesNoDestinationRecordAndAFailedCheckCreatesIt(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let id = try await client.start()
            _ = try await client.start(to: "+919876543211")
            #expect(try await h.destinationState("+919876543210") == nil)
            #expect(try await h.destinationState("+919876543211") == nil)
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            #expect(try await client.check(id, wrongCode(for: code)).problemCode == "incorrect_code")
            #expect(try await h.destinationState("+919876543210")?.failedChecks == 1)
            #expect(try await h.destinationState("+919876543211") == nil)
        }
    }

    @Test(arguments: Backend.available) func consecutiveFailuresAcrossVerificationsLockTheDestination(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_STARTS_PER_DESTINATION": "100"])
        try await h.test { client in
            // Ten wrong checks spread over four verifications of one number lock it (default: 10 per hour).
            var failures = 0
            var lastID = ""
            while failures < 10 {
                lastID = try await client.start()
                for _ in 0..<3 where failures < 10 {
                    let r = try await client.post("/v1/verifications/\(lastID)/check", #"{"code":"0000000000"}"#)
                    #expect(r.problemCode == "incorrect_code")
                    failures += 1
                }
            }
            let locked = try await client.post("/v1/verifications/\(lastID)/check", #"{"code":"0000000000"}"#)
            #expect(locked.status == .tooManyRequests)
            #expect(locked.problemCode == "destination_locked")
            #expect(locked.headers[.retryAfter] == "3600")
            let start = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#)
            #expect(start.problemCode == "destination_locked")
            // Other destinations are unaffected.
            #expect(try await client.post("/v1/verifications", #"{"to":"+919876543299","channel":"sms"}"#).status == .created)
            let lockedAt = h.clock.now()
            let lockState = try await h.destinationState("+919876543210")
            #expect(lockState?.lockedUntil == lockedAt + .seconds(3600))
            // A second before the lock ends it still holds; at its end a new run begins from zero.
            h.clock.advance(.seconds(3599))
            #expect(try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#).problemCode == "destination_locked")
            h.clock.advance(.seconds(1))
            let fresh = try await client.start()
            await h.deliver()
            let code = try #require(h.sender.code(for: fresh))
            #expect(try await client.check(fresh, wrongCode(for: code)).problemCode == "incorrect_code")
            let afterOne = try await h.destinationState("+919876543210")
            #expect(afterOne?.failedChecks == 1)
            #expect(try await client.check(fresh, code).status == .ok)
        }
        let state = try await h.destinationState("+919876543210")
        #expect(state?.failedChecks == 0)
    }

    /// With a lock after 3 failures, rounds of 2 wrong checks and an approval never lock: each approval ends the run.
    @Test(arguments: Backend.available) func anApprovalResetsTheRunOfFailures(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend, environment: ["OTPGATE_POLICY_STARTS_PER_DESTINATION": "100", "OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK": "3"])
        try await h.test { client in
            for round in 0..<3 {
                let id = try await client.start()
                await h.deliver()
                let code = try #require(h.sender.code(for: id))
                for _ in 0..<2 {
                    let wrong = try await client.check(id, wrongCode(for: code))
                    #expect(wrong.problemCode == "incorrect_code", "round \(round)")
                }
                let failing = try await h.destinationState("+919876543210")
                #expect(failing?.failedChecks == 2, "round \(round)")
                #expect(try await client.check(id, code).status == .ok, "round \(round)")
                let reset = try await h.destinationState("+919876543210")
                #expect(reset?.failedChecks == 0, "round \(round)")
                #expect(reset?.lockedUntil == nil, "round \(round)")
            }
        }
    }

    @Test(arguments: Backend.available) func aLockedDestinationRefusesResendButCanStillBeCanceled(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend, environment: ["OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK": "2", "OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS": "0"])
        try await h.test { client in
            let id = try await client.start()
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            #expect(try await client.check(id, wrongCode(for: code)).problemCode == "incorrect_code")
            #expect(try await client.check(id, wrongCode(for: code)).problemCode == "incorrect_code")
            let resend = try await client.post("/v1/verifications/\(id)/resend")
            #expect(resend.status == .tooManyRequests)
            #expect(resend.problemCode == "destination_locked")
            #expect(resend.headers[.retryAfter] == "3600")
            #expect(resend.int("retry_after") == 3600)
            // Nothing was sent for the refused resend.
            await h.deliver()
            #expect(h.sender.messages.count == 1)
            // The right code is refused while the destination is locked.
            #expect(try await client.check(id, code).problemCode == "destination_locked")
            let canceled = try await client.post("/v1/verifications/\(id)/cancel")
            #expect(canceled.status == .ok)
            #expect(canceled.string("status") == "canceled")
        }
    }

    @Test func failuresOutsideTheWindowStartANewRun() {
        var policy = Policy()
        policy.failedChecksBeforeLock = 3
        let t0 = Timestamp(seconds: 1000)
        var state = DestinationState(tenantID: "t", destinationKey: "d")
        state = DestinationRules.afterFailedCheck(state, now: t0, policy: policy)
        state = DestinationRules.afterFailedCheck(state, now: t0 + .seconds(10), policy: policy)
        state = DestinationRules.afterFailedCheck(state, now: t0 + .seconds(3601), policy: policy)
        #expect(state.failedChecks == 1)
        #expect(state.lockedUntil == nil)
        state = DestinationRules.afterFailedCheck(state, now: t0 + .seconds(3602), policy: policy)
        state = DestinationRules.afterFailedCheck(state, now: t0 + .seconds(3603), policy: policy)
        #expect(state.lockedUntil == t0 + .seconds(3603 + 3600))
    }

    @Test(arguments: Backend.available) func requestsPerKeyPerSecondAreLimited(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "3"])
        try await h.test { client in
            let id = try await client.start()
            #expect(try await client.get("/v1/verifications/\(id)").status == .ok)
            #expect(try await client.get("/v1/verifications/\(id)").status == .ok)
            let limited = try await client.get("/v1/verifications/\(id)")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.problemCode == "rate_limited")
            #expect(limited.string("scope") == "api_key")
            #expect(limited.headers[.retryAfter] == "1")
            #expect(limited.int("retry_after") == 1)
            // Refused requests still count; the next second has a fresh allowance.
            h.clock.advance(.seconds(1))
            #expect(try await client.get("/v1/verifications/\(id)").status == .ok)
        }
    }

    /// One key's allowance is its own: another key of the same tenant, and another tenant, are not slowed by it.
    @Test(arguments: Backend.available) func oneKeysLimitTouchesNoOtherKeyOrTenant(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "2"])
        let second = try await TenantAdmin(store: h.store, clock: h.clock, random: SeededRandom(seed: 11)).createKey(tenantID: h.tenant.id)
        let other = try await h.makeTenant("globex")
        try await h.test { client in
            let id = try await client.start()
            #expect(try await client.get("/v1/verifications/\(id)").status == .ok)
            #expect(try await client.get("/v1/verifications/\(id)").problemCode == "rate_limited")
            #expect(try await client.get("/v1/verifications/\(id)", key: .some(second.apiKey)).status == .ok)
            #expect(try await client.get("/v1/verifications/\(id)", key: .some(second.apiKey)).status == .ok)
            #expect(try await client.get("/v1/verifications/\(id)", key: .some(second.apiKey)).problemCode == "rate_limited")
            _ = try await client.start(key: .some(other.apiKey))
            #expect(
                try await client.post("/v1/verifications", #"{"to":"+919876543299","channel":"sms"}"#, key: .some(other.apiKey)).status == .created)
        }
    }

    /// Which requests use the allowance: every authenticated request that reaches the engine — token introspection
    /// and idempotent replays included — but not one refused at the edge for a bad field or a bad key.
    @Test(arguments: Backend.available) func whichRequestsCountAgainstTheKeyAllowance(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "3"])
        try await h.test { client in
            let body = #"{"to":"+919876543210","channel":"sms"}"#
            let replayKey: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "order-1"]
            // Refused validation and unauthenticated requests: many, and none counts.
            for _ in 0..<5 {
                #expect(try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"fax"}"#).status == .unprocessableContent)
                #expect(try await client.post("/v1/verifications", body, key: .some("otpg_wrong")).status == .unauthorized)
            }
            // 1: a start; 2: its replay; 3: a token introspection; the 4th request of the second is refused.
            #expect(try await client.post("/v1/verifications", body, headers: replayKey).status == .created)
            let replay = try await client.post("/v1/verifications", body, headers: replayKey)
            #expect(replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try await client.post("/v1/tokens/verify", #"{"token":"a.b.c"}"#)["valid"] == .bool(false))
            let fourth = try await client.post("/v1/tokens/verify", #"{"token":"a.b.c"}"#)
            #expect(fourth.problemCode == "rate_limited")
            #expect(fourth.string("scope") == "api_key")
            // A replay over the allowance is refused too: it is not free.
            #expect(try await client.post("/v1/verifications", body, headers: replayKey).problemCode == "rate_limited")
        }
    }

    @Test func cooldownGrowsAndIsCapped() {
        let policy = Policy()
        #expect(policy.resendCooldown(afterSends: 1) == .seconds(30))
        #expect(policy.resendCooldown(afterSends: 2) == .seconds(60))
        #expect(policy.resendCooldown(afterSends: 3) == .seconds(120))
        #expect(policy.resendCooldown(afterSends: 20) == .seconds(600))
    }

    @Test func nistCeilingOnFailedChecksIsEnforcedInConfiguration() {
        #expect(throws: ConfigurationError.self) {
            _ = try ServerSettings(environment: ["OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK": "101"])
        }
        #expect(throws: ConfigurationError.self) { _ = try ServerSettings(environment: ["OTPGATE_POLICY_TTL_SECONDS": "3600"]) }
    }
}
