import Logging
import OTPGateCore
public import ServiceLifecycle

/// Periodic housekeeping in the store: marks expired verifications (counting them in metrics), erases
/// undelivered codes that expired, and deletes rows past retention. Safe to run on every instance at once.
public struct Sweeper: Service {
    let store: any Store
    let clock: any OTPGateCore.Clock
    let metrics: ServerMetrics
    let logger: Logger
    let interval: Duration
    let retention: Duration

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await sweepOnce()
            var waited = Duration.zero
            while waited < interval, !Task.isShuttingDownGracefully, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                waited += .milliseconds(100)
            }
        }
    }

    func sweepOnce() async {
        do {
            let report = try await store.sweep(now: clock.now(), retention: retention)
            for (channel, count) in report.expiredByChannel { metrics.verificationsExpired(channel: channel, count: count) }
        } catch {
            logger.warning("sweep failed", metadata: ["error": .string(String(describing: error))])
        }
    }
}
