public import Hummingbird
import NIOCore
public import OTPGateObservability

/// The metrics endpoint, on a listener of its own (`OTPGATE_METRICS_HOST` / `OTPGATE_METRICS_PORT`, loopback by
/// default): the public router has no `/metrics` in any spelling, so no proxy rule has to keep it private.
public enum MetricsListener {
    /// A router that serves only `GET /metrics` (Prometheus text format 0.0.4).
    public static func router(metrics: ServerMetrics) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        return router
    }
}
