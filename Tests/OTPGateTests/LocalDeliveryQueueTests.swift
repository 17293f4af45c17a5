import OTPGateCore
import Testing

@testable import OTPGateDelivery

/// The outbox worker's alarm: it sleeps until a hand-off, a nudge, a wake-up or its timeout. The long timeouts
/// here are never reached when the queue works: a missed wake-up shows as the suite's time limit, not a race.
@Suite(.timeLimit(.minutes(1))) struct LocalDeliveryQueueTests {
    static func message(_ n: Int) -> OutboxMessage {
        let t = Timestamp(milliseconds: 1_000)
        return OutboxMessage(
            id: "vrf_x.\(n)", tenantID: "ten_a", verificationID: "vrf_x", channel: .sms, sealedPayload: [1], state: .sending, attempts: 1,
            createdAt: t, nextAttemptAt: t, expiresAt: t + .seconds(300))
    }

    @Test func aHandOffWakesTheSleepingWorker() async {
        let queue = LocalDeliveryQueue()
        async let slept: Void = queue.sleep(upTo: .seconds(600))
        // Hand off repeatedly until the sleeper has registered and woken (a hand-off before it sleeps also counts).
        Task {
            try? await Task.sleep(for: .milliseconds(20))
            queue.handOff(Self.message(1))
        }
        await slept
        #expect(queue.take(10).map(\.id) == ["vrf_x.1"])
    }

    @Test func workAlreadyThereOrAWakeUpEndsTheNextSleepAtOnce() async {
        let queue = LocalDeliveryQueue()
        queue.nudge()
        await queue.sleep(upTo: .seconds(600))
        queue.wake()
        await queue.sleep(upTo: .seconds(600))
        queue.handOff(Self.message(2))
        await queue.sleep(upTo: .seconds(600))
        #expect(queue.take(10).count == 1)
    }

    @Test func withNothingToDoTheSleepEndsAtItsTimeout() async {
        let queue = LocalDeliveryQueue()
        let started = ContinuousClock.now
        await queue.sleep(upTo: .milliseconds(50))
        #expect(ContinuousClock.now - started >= .milliseconds(50))
    }

    @Test func aWakeUpDuringTheSleepEndsIt() async {
        let queue = LocalDeliveryQueue()
        Task {
            try? await Task.sleep(for: .milliseconds(20))
            queue.wake()
        }
        await queue.sleep(upTo: .seconds(600))
    }
}
