import Logging
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client is too slow to send its request, however it spaces its bytes: the request head
/// must be complete within `header` (`OTPGATE_HEADER_TIMEOUT_SECONDS`) and its body within `body`
/// (`OTPGATE_BODY_TIMEOUT_SECONDS`). Both are total deadlines, not gaps between reads, so one byte every few seconds
/// does not keep a connection open. (Hummingbird's idle timeout, `OTPGATE_IDLE_TIMEOUT_SECONDS`, counts from the last
/// HTTP part and is reset by every trickled body chunk, and it never sees the bytes of a head that is still partial.)
///
/// The clocks:
/// - the **header** clock starts when the connection opens, and on a kept-alive connection when the first byte of the
///   next request arrives (until then the connection is idle, and the idle timeout applies); if that byte came while
///   an earlier response was still being written, the clock starts when that response ends. It stops at the head;
/// - the **body** clock starts at the head and stops at the end of the body. It runs while the request's handler
///   works, so a handler that waits long before reading the body needs a longer deadline.
///
/// Nothing here ever times out the server's own work: once a request has been read to its end, no deadline applies
/// until its response has been written. A request in flight when the body deadline passes loses its connection (its
/// handler sees the body end with an error and its response goes nowhere).
///
/// Sits after the HTTP/1 decoder (Hummingbird's `additionalChannelHandlers`) and adds a `RequestBytesWatcher` at the
/// front of the pipeline, which tells it when raw bytes arrive before the decoder has a head to show.
final class RequestReadDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct Limits: Sendable {
        /// From the connection opening (or the next request's first byte) to the complete request head.
        var header: TimeAmount
        /// From the request head to the end of its body.
        var body: TimeAmount
    }

    /// The user event `RequestBytesWatcher` sends before it passes on bytes read from the socket.
    struct BytesArrived {}

    private enum Deadline: String {
        case header, body
    }

    private let limits: Limits
    private let logger: Logger
    private var started = false
    /// When the wait for the current request head began; `nil` while no head is awaited or, on a kept-alive
    /// connection, before the next request's first byte.
    private var headerClock: NIODeadline?
    /// When the head of the request whose body is being read arrived; `nil` once its end has been read.
    private var bodyClock: NIODeadline?
    /// Requests whose head has arrived and whose response has not yet been written to its end.
    private var unanswered = 0
    /// At most one scheduled check. It may run before anything is due (the deadline moved later, or went away); it
    /// then re-checks, and reschedules only if something is still due.
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(limits: Limits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    // MARK: Connection

    func handlerAdded(context: ChannelHandlerContext) {
        // The decoder turns bytes into parts only once a head is whole; the watcher in front of it sees every byte.
        do {
            try context.pipeline.syncOperations.addHandler(RequestBytesWatcher(), position: .first)
        } catch {
            logger.error("request deadline watcher not added", metadata: ["error_type": .string(String(describing: type(of: error)))])
        }
        if context.channel.isActive { connectionOpened(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    func channelActive(context: ChannelHandlerContext) {
        connectionOpened(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    private func connectionOpened(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        headerClock = .now()
        rearm(context)
    }

    // MARK: Requests and responses

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is BytesArrived else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // The first byte of the next request on a kept-alive connection starts its header clock. Bytes that arrive
        // while a body is read, or while the clock already runs, change nothing.
        if started, bodyClock == nil, headerClock == nil {
            headerClock = .now()
            rearm(context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head:
            unanswered += 1
            headerClock = nil
            bodyClock = .now()
            rearm(context)
        case .body:
            break
        case .end:
            bodyClock = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = Self.unwrapOutboundIn(data) {
            // A 400 for a head that never parsed answers no head that arrived, hence the floor.
            unanswered = max(0, unanswered - 1)
            // Bytes of a pipelined request that came while this response was written: its clock starts now.
            if unanswered == 0, bodyClock == nil, headerClock != nil {
                headerClock = .now()
                rearm(context)
            }
        }
        context.write(data, promise: promise)
    }

    // MARK: The timer

    /// The deadline that applies now, if any.
    private var pending: (at: NIODeadline, deadline: Deadline)? {
        if let started = bodyClock { return (started + limits.body, .body) }
        if let started = headerClock, unanswered == 0 { return (started + limits.header, .header) }
        return nil
    }

    /// Makes sure a check runs no later than the deadline that applies now.
    private func rearm(_ context: ChannelHandlerContext) {
        guard let due = pending else { return }
        if let scheduled = timerDeadline, scheduled <= due.at { return }
        cancelTimer()
        schedule(at: due.at, context)
    }

    private func schedule(at deadline: NIODeadline, _ context: ChannelHandlerContext) {
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            check(context)
        }
    }

    private func check(_ context: ChannelHandlerContext) {
        guard let due = pending else { return }
        guard due.at <= .now() else {
            schedule(at: due.at, context)
            return
        }
        let seconds = due.deadline == .body ? limits.body : limits.header
        logger.debug(
            "slow client disconnected",
            metadata: ["deadline": .string(due.deadline.rawValue), "seconds": .stringConvertible(seconds.nanoseconds / 1_000_000_000)])
        headerClock = nil
        bodyClock = nil
        context.close(promise: nil)
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }
}

/// First in a connection's pipeline, before the HTTP/1 decoder: tells `RequestReadDeadlines` that bytes arrived (a
/// user event travelling ahead of them), then passes the bytes on unchanged.
final class RequestBytesWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireUserInboundEventTriggered(RequestReadDeadlines.BytesArrived())
        context.fireChannelRead(data)
    }
}
