import NIOCore

/// One SMTP reply: its code and its lines (a multi-line reply has several, RFC 5321 §4.2.1).
struct SMTPReply: Sendable, Equatable {
    var code: Int
    var lines: [String]

    var isPositive: Bool { (200..<400).contains(code) }
    var isTransient: Bool { (400..<500).contains(code) }
    /// The RFC 3463 enhanced status code at the start of the text (`5.1.1`), if the server gives one.
    var enhancedCode: String? {
        guard let first = lines.first?.split(separator: " ").first, first.split(separator: ".").count == 3,
            first.allSatisfy({ $0.isNumber || $0 == "." })
        else { return nil }
        return String(first)
    }
}

enum SMTPTransportError: Error, Sendable, Equatable {
    case connectionClosed
    case timeout
    case malformedReply
    case replyTooLong
}

/// Splits the server's bytes into replies and hands each to the command waiting for it, in order: commands may be
/// pipelined, so several can wait at once. A reply nobody waits for yet (the greeting) is kept for the next waiter.
/// Lives on the channel's event loop; `SMTPConnection` reaches it through `NIOLoopBound`.
final class SMTPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var buffer = ByteBuffer()
    private var lines: [String] = []
    private var unclaimed = CircularBuffer<SMTPReply>()
    private var waiters = CircularBuffer<EventLoopPromise<SMTPReply>>()
    private var failure: (any Error)?
    /// No legitimate reply line is this long (RFC 5321 allows 512 octets); a peer that sends more is not an SMTP server.
    private let maxBuffered = 16 * 1024

    /// Whether bytes or replies arrived that no command asked for: after STARTTLS's 220 there must be none, or a
    /// man in the middle could have injected a reply to be read as if it came over TLS (CVE-2011-0411).
    var hasUnrequestedInput: Bool { buffer.readableBytes > 0 || !unclaimed.isEmpty || !lines.isEmpty }

    func expect(_ promise: EventLoopPromise<SMTPReply>) {
        if let reply = unclaimed.popFirst() {
            promise.succeed(reply)
        } else if let failure {
            promise.fail(failure)
        } else {
            waiters.append(promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        while let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = buffer.readableBytesView.distance(from: buffer.readableBytesView.startIndex, to: newline) + 1
            guard var bytes = buffer.readBytes(length: length) else { break }
            // Bytes, not Characters: "\r\n" is one Character in Swift.
            while bytes.last == UInt8(ascii: "\n") || bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            guard bytes.count >= 3, let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)), (200..<600).contains(code),
                bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-")
            else {
                fail(SMTPTransportError.malformedReply, context: context)
                return
            }
            lines.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
            if bytes.count > 3, bytes[3] == UInt8(ascii: "-") { continue }
            let reply = SMTPReply(code: code, lines: lines)
            lines = []
            if let waiter = waiters.popFirst() { waiter.succeed(reply) } else { unclaimed.append(reply) }
        }
        buffer.discardReadBytes()
        if buffer.readableBytes > maxBuffered { fail(SMTPTransportError.replyTooLong, context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(SMTPTransportError.connectionClosed, context: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context: context)
    }

    /// Fails every waiter and every later command; the connection is not used again.
    func fail(_ error: any Error, context: ChannelHandlerContext?) {
        if failure == nil { failure = error }
        while let waiter = waiters.popFirst() { waiter.fail(error) }
        context?.close(promise: nil)
    }
}
