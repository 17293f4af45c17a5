import Logging
import NIOCore
import Synchronization

/// The cap on a listener's open connections (`OTPGATE_MAX_CONNECTIONS`), shared by every event loop that serves it.
/// A connection takes a slot when it is accepted and gives it back when it closes; one accepted while every slot is
/// taken is answered `503` and closed (`RefusedConnectionHandler`) without reaching the HTTP code.
///
/// Refusing, rather than not accepting (Hummingbird's `MaximumAvailableConnections`), is deliberate: a connection
/// left in the kernel's accept queue waits there, invisible, for as long as the slow clients hold every slot, while a
/// `503` tells the client (or the load balancer in front) at once that this instance is full.
final class ConnectionLimiter: Sendable {
    let maximum: Int
    private let openCount = Atomic<Int>(0)
    /// When a refusal was last logged (`NIODeadline.uptimeNanoseconds`): at most one warning per `warningInterval`.
    private let lastWarning = Atomic<UInt64>(0)
    private static let warningInterval: UInt64 = 10_000_000_000
    private let logger: Logger

    init(maximum: Int, logger: Logger) {
        self.maximum = maximum
        self.logger = logger
    }

    /// Takes a slot if one is free.
    func acquire() -> Bool {
        var current = openCount.load(ordering: .relaxed)
        while current < maximum {
            let (exchanged, original) = openCount.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        warnRefusing()
        return false
    }

    /// Gives back a slot taken by `acquire()`.
    func release() {
        openCount.subtract(1, ordering: .relaxed)
    }

    private func warnRefusing() {
        let now = NIODeadline.now().uptimeNanoseconds
        let last = lastWarning.load(ordering: .relaxed)
        guard last == 0 || now &- last >= Self.warningInterval,
            lastWarning.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        logger.warning(
            "connection cap reached: refusing new connections with 503", metadata: ["max_connections": .stringConvertible(maximum)])
    }
}

/// Answers a connection over the cap: `503 Service Unavailable` with `Connection: close`, then closes its sending
/// side and discards whatever the client sends until it closes its side too, or for at most `linger`. (Closing at
/// once, with the client's request still unread, would make the kernel reset the connection, and the client might
/// never see the 503.)
final class RefusedConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let linger: TimeAmount = .seconds(1)
    private static let response = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\nRetry-After: 1\r\n\r\n"
    private var answered = false

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { answer(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        answer(context)
        context.fireChannelActive()
    }

    private func answer(_ context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: Self.response)), promise: nil)
        // Sends FIN once the 503 is written.
        context.close(mode: .output, promise: nil)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: Self.linger) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Discarded: the request is not served.
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event as? ChannelEvent == .some(.inputClosed) {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
