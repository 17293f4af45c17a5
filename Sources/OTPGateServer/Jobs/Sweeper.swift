import Logging
import OTPGateCore
import OTPGateObservability
public import ServiceLifecycle

/// Housekeeping in the store: marks expired verifications (counting them in metrics), erases undelivered codes
/// that expired, and deletes rows past retention (`SweepDecider` plans what). It sleeps until the earliest expiry
/// the store knows of, at least `minimumGap` and at most `interval` (other instances add verifications too), and
/// ends on graceful shutdown. Safe to run on every instance at once.
public struct Sweeper: Service {
    let store: any Housekeeping
    let clock: any OTPGateCore.Clock
    let metrics: ServerMetrics
    let logger: Logger
    let interval: Duration
    let retention: Duration
    let auditRetention: Duration
    var minimumGap: Duration = .seconds(1)

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sweepOnce()
                try await Task.sleep(for: await nextSleep())
            }
        }
    }

    func nextSleep() async -> Duration {
        do {
            guard let due = try await store.nextExpiry() else { return interval }
            return min(max(due - clock.now(), minimumGap), interval)
        } catch {
            logger.warning("sweep due time unavailable", metadata: ["error": .string(String(describing: error))])
            return interval
        }
    }

    func sweepOnce() async {
        do {
            let report = try await store.sweep(SweepDecider.plan(now: clock.now(), retention: retention, auditRetention: auditRetention))
            for (channel, count) in report.expiredByChannel { metrics.verificationsExpired(channel: channel, count: count) }
        } catch {
            logger.warning("sweep failed", metadata: ["error": .string(String(describing: error))])
        }
    }
}
