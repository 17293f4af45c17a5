import HummingbirdCore
import Logging
import NIOCore

/// How long a client may take, and how many connections a listener holds (README "Configuration"):
/// `OTPGATE_IDLE_TIMEOUT_SECONDS`, `OTPGATE_HEADER_TIMEOUT_SECONDS`, `OTPGATE_BODY_TIMEOUT_SECONDS`,
/// `OTPGATE_MAX_CONNECTIONS`.
struct ConnectionLimits: Sendable {
    /// A connection with no request in progress, or one that sends nothing at all, is closed after this long.
    var idleTimeout: Duration
    /// From the connection opening (or the next request's first byte) to the complete request head.
    var headerTimeout: Duration
    /// From the request head to the end of its body.
    var bodyTimeout: Duration
    /// Open connections per listener; the ones over it are answered 503 and closed.
    var maxConnections: Int

    init(_ settings: ServerSettings) {
        idleTimeout = settings.idleTimeout
        headerTimeout = settings.headerTimeout
        bodyTimeout = settings.bodyTimeout
        maxConnections = settings.maxConnections
    }
}

extension HTTPServerBuilder {
    /// Hummingbird's HTTP/1 server, with the idle timeout, the header and body deadlines (`RequestReadDeadlines`) and a
    /// cap on open connections (`ConnectionLimiter`) of its own.
    static func guardedHTTP1(_ limits: ConnectionLimits, logger: Logger) -> HTTPServerBuilder {
        let limiter = ConnectionLimiter(maximum: limits.maxConnections, logger: logger)
        let deadlines = RequestReadDeadlines.Limits(header: TimeAmount(limits.headerTimeout), body: TimeAmount(limits.bodyTimeout))
        let configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestReadDeadlines(limits: deadlines, logger: logger)],
            idleTimeout: TimeAmount(limits.idleTimeout))
        return HTTPServerBuilder { responder in
            GuardedHTTP1Channel(http: HTTP1Channel(responder: responder, configuration: configuration), limiter: limiter)
        }
    }
}

/// Hummingbird's `HTTP1Channel` behind the connection cap: a connection that finds a free slot is set up and served
/// as usual and frees its slot when it closes; one that finds none gets no HTTP pipeline, only a
/// `RefusedConnectionHandler`.
struct GuardedHTTP1Channel: ServerChildChannel {
    struct Connection: ServerChildChannelValue {
        let channel: any Channel
        /// `nil` for a refused connection.
        let http: HTTP1Channel.Value?
    }
    typealias Value = Connection

    let http: HTTP1Channel
    let limiter: ConnectionLimiter

    /// Runs on the connection's event loop before it is registered. It must not fail: a connection whose setup fails
    /// is neither served nor closed by the server.
    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Connection> {
        guard limiter.acquire() else {
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RefusedConnectionHandler())
                return Connection(channel: channel, http: nil)
            }
        }
        let limiter = self.limiter
        channel.closeFuture.whenComplete { _ in limiter.release() }
        return http.setup(channel: channel, logger: logger).map { Connection(channel: channel, http: $0) }
    }

    func handle(value: Connection, logger: Logger) async {
        // A refused connection answers and closes itself.
        guard let connection = value.http else { return }
        await http.handle(value: connection, logger: logger)
    }
}
