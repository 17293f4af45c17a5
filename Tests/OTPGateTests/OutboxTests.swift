import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Synchronization
import Testing

@testable import OTPGateDelivery
@testable import OTPGateServer

/// The transactional outbox: delivered once, codes sealed at rest and erased after, retries with backoff.
@Suite struct OutboxTests {
    func start(_ h: Harness, to: String = "+919876543210", ttl: Int? = nil) async throws -> Verification {
        let principal = try await h.principal(for: h.apiKey)
        guard
            case .created(let v) = try await h.engine.start(
                StartRequest(destination: .init(unchecked: to, channel: .sms), ttlSeconds: ttl), principal: principal)
        else { throw TestFailure("not created") }
        return v
    }

    @Test(arguments: Backend.available) func theMessageIsWrittenWithTheVerificationSealedAndErasedAfterSending(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let v = try await start(h)
        let queued = try await h.store.outboxMessages(verificationID: v.id)
        #expect(queued.count == 1)
        #expect(queued[0].state == .pending)
        let sealed = try #require(queued[0].sealedPayload)
        // Nothing in the stored row reads as the destination (the code is never stored in clear either).
        #expect(!String(decoding: sealed, as: UTF8.self).contains("9876543210"))
        await h.deliver()
        let code = try #require(h.sender.code(for: v.id))
        #expect(!String(decoding: sealed, as: UTF8.self).contains(code))
        let sent = try await h.store.outboxMessages(verificationID: v.id)
        #expect(sent[0].state == .sent)
        #expect(sent[0].sealedPayload == nil)
        #expect(h.sender.messages.count == 1)
        // Delivering again sends nothing more.
        await h.deliver()
        #expect(h.sender.messages.count == 1)
    }

    @Test(arguments: Backend.available) func retryableFailuresAreRetriedWithBackoffUntilSent(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let v = try await start(h)
        h.sender.failNext([DeliveryError(retryable: true, reason: "gateway 503"), DeliveryError(retryable: true, reason: "gateway 503")])
        await h.deliver()
        var row = try await h.store.outboxMessages(verificationID: v.id)[0]
        #expect(row.state == .pending)
        #expect(row.attempts == 1)
        #expect(row.lastError == "gateway 503")
        #expect(row.nextAttemptAt >= h.clock.now() + .seconds(1) && row.nextAttemptAt <= h.clock.now() + .seconds(2))
        await h.deliver()
        #expect(h.sender.messages.isEmpty)
        h.clock.advance(.seconds(2))
        await h.deliver()
        h.clock.advance(.seconds(4))
        await h.deliver()
        row = try await h.store.outboxMessages(verificationID: v.id)[0]
        #expect(row.state == .sent)
        #expect(row.attempts == 3)
        #expect(h.sender.messages.count == 1)
    }

    /// After `maxDeliveryAttempts` retryable failures the message is given up: `failed`, its code erased, never tried
    /// again, and counted.
    @Test(arguments: Backend.available) func retryableFailuresAreGivenUpAfterTheAttemptLimit(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let limit = h.runtime.settings.delivery.maxAttempts
        #expect(limit == 5)
        let v = try await start(h)
        h.sender.failNext(Array(repeating: DeliveryError(retryable: true, reason: "gateway 503"), count: limit + 1))
        for attempt in 1...limit {
            await h.deliver()
            let row = try await h.store.outboxMessages(verificationID: v.id)[0]
            #expect(row.attempts == attempt)
            #expect(h.sender.attempts == attempt)
            if attempt < limit {
                #expect(row.state == .pending, "attempt \(attempt)")
                // Exponential with jitter: between half the step and the step.
                let step = Duration.seconds(1 << attempt)
                #expect(row.nextAttemptAt >= h.clock.now() + step / 2 && row.nextAttemptAt <= h.clock.now() + step, "attempt \(attempt)")
                h.clock.advance(step)
            }
        }
        let row = try await h.store.outboxMessages(verificationID: v.id)[0]
        #expect(row.state == .failed)
        #expect(row.sealedPayload == nil)
        #expect(row.lastError == "gateway 503")
        #expect(row.attempts == limit)
        // Nothing more is tried, however long the worker runs.
        h.clock.advance(.seconds(3600))
        await h.deliver()
        #expect(h.sender.attempts == limit)
        #expect(h.sender.messages.isEmpty)
        #expect(try await h.store.outboxMessages(verificationID: v.id)[0].attempts == limit)
        let metrics = h.metricsText
        #expect(metrics.contains(#"otpgate_messages_total{channel="sms",sender="recording",outcome="retry"} \#(limit - 1)"#))
        #expect(metrics.contains(#"otpgate_messages_total{channel="sms",sender="recording",outcome="failed"} 1"#))
        #expect(!metrics.contains(#"outcome="sent""#))
    }

    @Test(arguments: Backend.available) func permanentFailuresStopAtOnce(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let v = try await start(h)
        h.sender.failNext([DeliveryError(retryable: false, reason: "invalid number")])
        await h.deliver()
        let row = try await h.store.outboxMessages(verificationID: v.id)[0]
        #expect(row.state == .failed)
        #expect(row.sealedPayload == nil)
        #expect(row.lastError == "invalid number")
        h.clock.advance(.seconds(60))
        await h.deliver()
        #expect(h.sender.attempts == 1)
    }

    @Test(arguments: Backend.available) func aCodeThatExpiredUndeliveredIsNeverSent(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let v = try await start(h, ttl: 30)
        h.clock.advance(.seconds(31))
        await h.deliver()
        #expect(h.sender.messages.isEmpty)
        #expect(try await h.store.outboxMessages(verificationID: v.id)[0].state == .expired)
    }

    @Test(arguments: Backend.available) func aResendSupersedesTheUnsentCode(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS": "0"])
        let v = try await start(h)
        _ = try await h.engine.resend(id: v.id, channel: nil, principal: try await h.principal(for: h.apiKey))
        await h.deliver()
        let rows = try await h.store.outboxMessages(verificationID: v.id)
        #expect(rows.map(\.state) == [.superseded, .sent])
        #expect(h.sender.messages.count == 1)
    }

    @Test(arguments: Backend.available) func anAbandonedClaimIsDeliveredWhenItsLeaseRunsOut(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let v = try await start(h)
        let now = h.clock.now()
        // A worker claims the message and dies without finishing.
        let claimed = try await h.store.claimOutbox(limit: 10, now: now, leaseUntil: now + .seconds(30))
        #expect(claimed.count == 1)
        await h.deliver()
        #expect(h.sender.messages.isEmpty)
        h.clock.advance(.seconds(30))
        await h.deliver()
        #expect(h.sender.messages.count == 1)
        // The dead worker's late report is fenced out by the attempt number.
        try await h.store.finishOutbox(
            [DeliveryResult(messageID: claimed[0].id, attempt: claimed[0].attempts, outcome: .failed(error: "late"))], now: h.clock.now())
        #expect(try await h.store.outboxMessages(verificationID: v.id)[0].state == .sent)
    }

    /// A worker whose lease ran out reports late, while another worker holds a newer claim of the same message: the late
    /// report is fenced out by its attempt number and changes nothing; the newer claim's report counts.
    @Test(arguments: Backend.available) func aLateReportCannotOverwriteANewerClaim(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let v = try await start(h)
        let first = try await h.store.claimOutbox(limit: 10, now: h.clock.now(), leaseUntil: h.clock.now() + .seconds(30))
        try #require(first.count == 1)
        h.clock.advance(.seconds(30))
        let second = try await h.store.claimOutbox(limit: 10, now: h.clock.now(), leaseUntil: h.clock.now() + .seconds(30))
        try #require(second.count == 1)
        #expect(second[0].attempts == first[0].attempts + 1)
        try await h.store.finishOutbox(
            [DeliveryResult(messageID: first[0].id, attempt: first[0].attempts, outcome: .failed(error: "late"))], now: h.clock.now())
        var row = try await h.store.outboxMessages(verificationID: v.id)[0]
        #expect(row.state == .sending)
        #expect(row.sealedPayload != nil)
        #expect(row.lastError == nil)
        try await h.store.finishOutbox(
            [DeliveryResult(messageID: second[0].id, attempt: second[0].attempts, outcome: .sent(providerMessageID: nil))], now: h.clock.now())
        row = try await h.store.outboxMessages(verificationID: v.id)[0]
        #expect(row.state == .sent)
    }

    @Test(arguments: Backend.available) func aMessageIsWrittenClaimedAndHandedToTheLocalWorker(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, localDelivery: true)
        let v = try await start(h)
        let row = try await h.store.outboxMessages(verificationID: v.id)[0]
        #expect(row.id == "\(v.id).1")
        #expect(row.state == .sending)
        #expect(row.attempts == 1)
        #expect(row.leaseUntil == h.clock.now() + .seconds(30))
        // No other worker can claim it while the lease runs.
        #expect(try await h.store.claimOutbox(limit: 10, now: h.clock.now(), leaseUntil: h.clock.now() + .seconds(30)).isEmpty)
        await h.deliver()
        #expect(h.sender.messages.count == 1)
        #expect(try await h.store.outboxMessages(verificationID: v.id)[0].state == .sent)
    }

    /// Messages that fail together (a gateway outage) come back at different times, not as one burst.
    @Test func retriesOfMessagesThatFailedTogetherAreSpread() async throws {
        let h = try await Harness.make()
        var ids: [String] = []
        for n in 0..<8 { ids.append(try await start(h, to: "+9198765433\(n)0").id) }
        h.sender.failNext(Array(repeating: DeliveryError(retryable: true, reason: "gateway 503"), count: 8))
        await h.deliver()
        var due: Set<Timestamp> = []
        for id in ids { due.insert(try #require(try await h.store.outboxMessages(verificationID: id).first).nextAttemptAt) }
        #expect(due.count >= 6, "retry times: \(due.sorted { $0 < $1 })")
    }

    /// A batch behind a slow provider: once less than half of a claim's lease is left, the worker leaves the message
    /// for a later claim instead of sending it while another worker may take it.
    @Test func aWorkerDoesNotSendAMessageWhoseLeaseIsNearlyOver() async throws {
        let h = try await Harness.make()
        for n in 0..<20 { _ = try await start(h, to: "+9198765432\(String(format: "%02d", n))", ttl: 600) }
        let slow = ClockAdvancingSender(clock: h.clock, step: .seconds(20))
        let worker = try await ServerRuntime.make(
            settings: h.runtime.settings, store: h.store,
            dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 5), sender: slow, runBackgroundServices: false))
        _ = await worker.outboxWorker.drainOnce()
        // The first 16 start together with a full lease; each send takes 20 s of the 30 s lease, so the rest are left.
        #expect(slow.sent.count == 16)
        let rows = try await h.store.outboxBacklog()
        #expect(rows.depth == 4)
        // They are claimed again when their lease ends, and sent.
        h.clock.advance(.seconds(30))
        _ = await worker.outboxWorker.drainOnce()
        #expect(slow.sent.count == 20)
        #expect(Set(slow.sent).count == 20)
    }

    @Test(arguments: Backend.available) func aHandedOffMessageOfADeadProcessIsDeliveredByAnotherWorkerAfterItsLease(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, localDelivery: true)
        let v = try await start(h)
        // Another instance on the same database, whose worker polls the store (the first process "died").
        let other = try await ServerRuntime.make(
            settings: h.runtime.settings, store: h.store,
            dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 5), sender: h.sender, runBackgroundServices: false))
        #expect(await other.outboxWorker.drainOnce() == 0)
        h.clock.advance(.seconds(30))
        #expect(await other.outboxWorker.drainOnce() == 1)
        let row = try await h.store.outboxMessages(verificationID: v.id)[0]
        #expect(row.state == .sent)
        #expect(row.attempts == 2)
        #expect(h.sender.messages.count == 1)
    }

    @Test func theConsoleSenderWritesOneJSONLine() async throws {
        let lines = Mutex<[String]>([])
        let console = ConsoleSender { line in lines.withLock { $0.append(line) } }
        try await console.send(
            OutgoingMessage(
                messageID: "vrf_b.1", tenantID: "ten_a", verificationID: "vrf_b", channel: .sms, destination: "+919876543210", subject: nil,
                text: "123456 is your code"))
        let line = try #require(lines.withLock { $0.first })
        let object = try JSONDecoder().decode([String: String].self, from: Data(line.utf8))
        #expect(object["to"] == "+919876543210")
        #expect(object["text"] == "123456 is your code")
        #expect(object["verification_id"] == "vrf_b")
        #expect(!line.contains("\n"))
    }

    @Test func productionRefusesTheConsoleUnlessAllowed() throws {
        let production = try ServerSettings(environment: ["OTPGATE_ENV": "production"])
        #expect(throws: ConfigurationError.self) { _ = try DeliverySetup.routes(production) }
        let forced = try ServerSettings(environment: ["OTPGATE_ENV": "production", "OTPGATE_DELIVERY": "console"])
        #expect(throws: ConfigurationError.self) { _ = try DeliverySetup.routes(forced) }
        let allowed = try ServerSettings(environment: ["OTPGATE_ENV": "production", "OTPGATE_ALLOW_CONSOLE_IN_PRODUCTION": "true"])
        #expect(try DeliverySetup.routes(allowed).sender(for: .sms)?.name == "console")
        #expect(try DeliverySetup.routes(try ServerSettings(environment: [:])).sender(for: .email)?.name == "console")
    }

    @Test(arguments: Backend.available) func theSweeperExpiresVerificationsAndCountsThem(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        _ = try await start(h, ttl: 30)
        h.clock.advance(.seconds(30))
        let report = try await h.store.sweep(SweepDecider.plan(now: h.clock.now(), retention: .seconds(86_400)))
        #expect(report.expiredByChannel[.sms] == 1)
        let again = try await h.store.sweep(SweepDecider.plan(now: h.clock.now(), retention: .seconds(86_400)))
        #expect(again.expiredByChannel.isEmpty)
    }

    /// A message handed to this process's worker waits in memory after its commit; a resend or a cancel before the
    /// worker gets to it makes its code obsolete, and it must not be sent (issue 12: checked before send).
    @Test(arguments: Backend.available) func aMessageSupersededWhileQueuedInMemoryIsNotSent(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS": "1"], localDelivery: true)
        let principal = try await h.principal(for: h.apiKey)
        let resent = try await start(h)
        h.clock.advance(.seconds(2))
        _ = try await h.engine.resend(id: resent.id, channel: nil, principal: principal)
        let canceled = try await start(h, to: "+919800000042")
        _ = try await h.engine.cancel(id: canceled.id, principal: principal)
        await h.deliver()
        // Only the resend's new code left; the first code and the canceled verification's code stayed in memory.
        #expect(h.sender.messages.map(\.messageID) == ["\(resent.id).2"])
        #expect(try await h.store.outboxMessages(verificationID: resent.id).map(\.state) == [.superseded, .sent])
        #expect(try await h.store.outboxMessages(verificationID: canceled.id).map(\.state) == [.superseded])
    }

    /// The claim check and the finish of a batch handle every batch size alike, including sizes that are not a power of
    /// two (the SQLite store pads them to one of a few prepared statements) and more than one statement's worth (128):
    /// exactly the held claims are reported held, and exactly the reported messages are finished.
    @Test(arguments: Backend.available) func claimChecksAndFinishesAreExactForEveryBatchSize(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend, environment: ["OTPGATE_POLICY_PUMPING_GUARD": "off", "OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "1000"])
        var messages: [OutboxMessage] = []
        for index in 0..<150 {
            let v = try await start(h, to: "+9198000\(String(format: "%05d", index))")
            messages += try await h.store.outboxMessages(verificationID: v.id)
        }
        let claimed = try await h.store.claimOutbox(limit: 200, now: h.clock.now(), leaseUntil: h.clock.now() + .seconds(30))
        try #require(claimed.count == 150)
        var remaining = claimed.sorted { $0.id < $1.id }
        for size in [1, 2, 3, 5, 7, 130] {
            let batch = Array(remaining.prefix(size))
            remaining.removeFirst(size)
            // A stale attempt number is not held: the batch's last claim is asked about with the wrong attempt.
            var asked = batch.map { OutboxClaim(messageID: $0.id, attempt: $0.attempts) }
            asked[asked.count - 1] = OutboxClaim(messageID: batch[batch.count - 1].id, attempt: batch[batch.count - 1].attempts + 1)
            let held = try await h.store.claimsHeld(asked)
            #expect(held == Set(batch.dropLast().map(\.id)), "batch of \(size)")
            try await h.store.finishOutbox(
                batch.map { DeliveryResult(messageID: $0.id, attempt: $0.attempts, outcome: .sent(providerMessageID: "p-\($0.id)")) },
                now: h.clock.now())
            for message in batch {
                let row = try #require(try await h.store.outboxMessages(verificationID: message.verificationID).first)
                #expect(row.state == .sent, "batch of \(size)")
                #expect(row.providerMessageID == "p-\(message.id)")
            }
        }
        // The last two stayed claimed and unfinished.
        #expect(remaining.count == 2)
        let held = try await h.store.claimsHeld(remaining.map { OutboxClaim(messageID: $0.id, attempt: $0.attempts) })
        #expect(held == Set(remaining.map(\.id)))
        for message in remaining {
            #expect(try await h.store.outboxMessages(verificationID: message.verificationID).first?.state == .sending)
        }
    }
}

/// A provider that takes `step` of the test clock per message.
final class ClockAdvancingSender: MessageSender, Sendable {
    let name = "slow"
    let clock: TestClock
    let step: Duration
    private let log = Mutex<[String]>([])
    var sent: [String] { log.withLock { $0 } }

    init(clock: TestClock, step: Duration) {
        self.clock = clock
        self.step = step
    }

    func send(_ message: OutgoingMessage) async throws -> SendReceipt {
        try await Task.sleep(for: .milliseconds(20))
        clock.advance(step)
        log.withLock { $0.append(message.messageID) }
        return SendReceipt()
    }
}
