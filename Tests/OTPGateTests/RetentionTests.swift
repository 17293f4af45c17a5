import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Synchronization
import Testing

@testable import OTPGateServer

/// Housekeeping: finished verifications and their messages are deleted once past `OTPGATE_RETENTION_DAYS` (then the
/// API answers 404), and nothing younger is touched.
@Suite struct RetentionTests {
    @Test(arguments: Backend.available) func finishedVerificationsAreDeletedAfterTheRetentionPeriod(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_RETENTION_DAYS": "30"])
        let day = Duration.seconds(86_400)
        try await h.test { client in
            // Day 0: one approved, one canceled, one left to expire.
            let approved = try await client.start(to: "+919800000001")
            await h.deliver()
            #expect(try await client.check(approved, try #require(h.sender.code(for: approved))).status == .ok)
            let canceled = try await client.start(to: "+919800000002")
            #expect(try await client.post("/v1/verifications/\(canceled)/cancel").status == .ok)
            let expired = try await client.start(to: "+919800000003", extra: #","ttl_seconds":30"#)
            h.clock.advance(.seconds(60))
            await h.runtime.sweeper.sweepOnce()
            #expect(try await client.get("/v1/verifications/\(expired)").string("status") == "expired")
            #expect(h.metricsText.contains(#"otpgate_verifications_expired_total{channel="sms"} 1"#))

            // Day 29: a verification approved within the period, which must survive.
            h.clock.advance(day * 29)
            let recent = try await client.start(to: "+919800000004")
            await h.deliver()
            #expect(try await client.check(recent, try #require(h.sender.code(for: recent))).status == .ok)

            // A day before the period ends nothing goes; a day after, the day-0 rows go.
            await h.runtime.sweeper.sweepOnce()
            for id in [approved, canceled, expired, recent] {
                #expect(try await client.get("/v1/verifications/\(id)").status == .ok, "\(id) deleted early")
            }
            h.clock.advance(day + .seconds(1))
            await h.runtime.sweeper.sweepOnce()
            for id in [approved, canceled, expired] {
                let gone = try await client.get("/v1/verifications/\(id)")
                #expect(gone.status == .notFound, "\(id) outlived its retention")
                #expect(gone.problemCode == "not_found")
                #expect(try await h.store.outboxMessages(verificationID: id).isEmpty, "\(id)'s messages outlived it")
            }
            #expect(try await client.get("/v1/verifications/\(recent)").string("status") == "approved")
            #expect(try await h.store.outboxMessages(verificationID: recent).count == 1)
        }
    }

    @Test(arguments: Backend.available) func aDestinationLockSurvivesTheSweep(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend, environment: ["OTPGATE_RETENTION_DAYS": "1", "OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK": "1"])
        try await h.test { client in
            let id = try await client.start()
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            #expect(try await client.check(id, wrongCode(for: code)).problemCode == "incorrect_code")
            h.clock.advance(.seconds(60))
            await h.runtime.sweeper.sweepOnce()
            // The lock (an hour) survives the sweep: it decides correctness, it is not housekeeping.
            #expect(try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#).problemCode == "destination_locked")
            #expect(try await h.destinationState("+919876543210")?.lockedUntil != nil)
        }
    }
}

/// The sweep works in bounded batches and the background jobs learn their next due time from the store.
@Suite struct SweepBatchTests {
    @Test(arguments: Backend.available) func aSweepInSmallBatchesStillExpiresAndDeletesEverything(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_STARTS_PER_DESTINATION": "100"])
        let started = Mutex<[String]>([])
        try await h.test { client in
            for n in 0..<7 {
                let id = try await client.start(to: "+91980000001\(n)", extra: #","ttl_seconds":30"#)
                started.withLock { $0.append(id) }
            }
        }
        let ids = started.withLock { $0 }
        h.clock.advance(.seconds(60))
        // Batches of two: seven expiries take four statements; the loop must not stop after the first.
        let expired = try await h.store.sweep(SweepDecider.plan(now: h.clock.now(), retention: .seconds(86_400), batchSize: 2))
        #expect(expired.expiredByChannel[.sms] == 7)
        h.clock.advance(.seconds(2 * 86_400))
        let deleted = try await h.store.sweep(SweepDecider.plan(now: h.clock.now(), retention: .seconds(86_400), batchSize: 2))
        #expect(deleted.expiredByChannel.isEmpty)
        for id in ids { #expect(try await h.store.findVerification(id: id, tenantID: h.tenant.id) == nil, "\(id) survived") }
        // 7 verifications and their 7 messages (and the destinations' rows, if any) are gone.
        #expect(deleted.deletedRows >= 14)
    }

    @Test(arguments: Backend.available) func theStoreKnowsTheNextExpiryAndTheNextDueMessage(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        #expect(try await h.store.nextExpiry() == nil)
        #expect(try await h.store.nextOutboxDue() == nil)
        let t0 = h.clock.now()
        try await h.test { client in
            _ = try await client.start(extra: #","ttl_seconds":120"#)
            h.clock.advance(.seconds(1))
            _ = try await client.start(to: "+919800000009", extra: #","ttl_seconds":60"#)
        }
        #expect(try await h.store.nextExpiry() == t0 + .seconds(61))
        // Both messages were written unclaimed (no local worker here): due at once, the first first.
        #expect(try await h.store.nextOutboxDue() == t0)
        await h.deliver()
        #expect(try await h.store.nextOutboxDue() == nil)
    }
}
