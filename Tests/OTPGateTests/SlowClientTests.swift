import Foundation
import NIOCore
import NIOPosix
import OTPGateServer
import Synchronization
import Testing

extension RealProcesses {
    /// Slow clients against the real `otpgate` binary (issue 12): connections that trickle a request head or body one
    /// byte at a time are closed at the header and body deadlines while other requests are served, a kept-alive
    /// connection is closed after the idle timeout (and not at the header deadline), and connections over
    /// `OTPGATE_MAX_CONNECTIONS` are answered 503 and closed.
    @Suite(.serialized, .timeLimit(.minutes(3))) struct SlowClientTests {
        /// 150 connections trickle a request head that never ends, 150 more a whole head and then a body that never
        /// ends, one byte every 200 ms each: the server closes every one at its deadline, and meanwhile answers
        /// `/healthz` and a real start.
        @Test func tricklingConnectionsAreClosedAtTheirDeadlinesWhileOtherRequestsAreServed() async throws {
            let header = Duration.seconds(2)
            let body = Duration.seconds(4)
            // Longer than the header deadline plus the slack below, so a head that only the idle timeout closed fails.
            let idle = Duration.seconds(8)
            let dir = try temporaryDirectory()
            let server = try await OTPGateServerProcess.start(
                directory: dir,
                environment: [
                    "OTPGATE_DELIVERY": "discard", "OTPGATE_HEADER_TIMEOUT_SECONDS": "\(header.components.seconds)",
                    "OTPGATE_BODY_TIMEOUT_SECONDS": "\(body.components.seconds)", "OTPGATE_IDLE_TIMEOUT_SECONDS": "\(idle.components.seconds)",
                    "OTPGATE_MAX_CONNECTIONS": "1000",
                ])
            let key = try #require(server.apiKey)

            // A kept-alive connection, answered once: it stays open past the header deadline, because no request is
            // under way on it, and is closed by the idle timeout instead.
            let keptAlive = try await RawConnection.open(port: server.port)
            keptAlive.send("GET /healthz HTTP/1.1\r\nHost: otpgate\r\n\r\n")
            try await waitUntil("the kept-alive connection's first answer", timeout: .seconds(10)) { keptAlive.answers(200) == 1 }

            var heads: [RawConnection] = []
            for _ in 0..<150 {
                let connection = try await RawConnection.open(port: server.port)
                connection.send("GET /healthz HTTP/1.1\r\nHost: otpgate\r\nX-Slow: ")
                heads.append(connection)
            }
            var bodies: [RawConnection] = []
            for _ in 0..<150 {
                let connection = try await RawConnection.open(port: server.port)
                // A real start, authenticated: its handler waits for a body that never ends.
                connection.send(
                    "POST /v1/verifications HTTP/1.1\r\nHost: otpgate\r\nAuthorization: Bearer \(key)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{")
                bodies.append(connection)
            }
            let trickling = heads + bodies
            let (headTricklers, bodyTricklers) = (heads, bodies)
            let trickle = Task {
                while !Task.isCancelled {
                    for connection in headTricklers where !connection.isClosed { connection.send("a") }
                    for connection in bodyTricklers where !connection.isClosed { connection.send(" ") }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            // `/healthz` over and over while they trickle, noting how many were still open at each answer. It stops on a
            // flag rather than by cancellation, which would fail the request in flight and record a failure of the client.
            let checking = LoadFlag()
            let checks = Task {
                var answers: [(status: Int, openTricklers: Int)] = []
                while checking.value {
                    let status = (try? await server.raw("/healthz").status) ?? -1
                    answers.append((status, trickling.filter { !$0.isClosed }.count))
                    try? await Task.sleep(for: .milliseconds(100))
                }
                return answers
            }

            let started = try await server.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#, key: key)
            let openWhenStarted = trickling.filter { !$0.isClosed }.count
            #expect(started.status == 201)
            #expect(openWhenStarted >= trickling.count / 2, "only \(openWhenStarted) trickling connections were open when the start was answered")

            // Past the header deadline, the kept-alive connection is still open and still serves.
            try await Task.sleep(until: keptAlive.opened + header + .milliseconds(500), clock: .continuous)
            #expect(!keptAlive.isClosed, "a kept-alive connection with no request under way was closed at the header deadline")
            keptAlive.send("GET /healthz HTTP/1.1\r\nHost: otpgate\r\n\r\n")
            try await waitUntil("the kept-alive connection's second answer", timeout: .seconds(10)) { keptAlive.answers(200) == 2 }
            let lastAnswer = ContinuousClock.now

            try await waitUntil("every trickling connection closed by the server", timeout: .seconds(60), every: .milliseconds(100)) {
                trickling.allSatisfy(\.isClosed)
            }
            trickle.cancel()
            checking.value = false
            let answers = await checks.value

            let slack = Duration.seconds(5)
            let early = Duration.milliseconds(250)
            for connection in heads {
                let after = try #require(connection.closedAfter)
                // Its clock started when the server accepted it, no earlier than `opened`.
                #expect(after >= header - early, "a trickled head was cut off after \(after), before the \(header) deadline")
                #expect(after <= header + slack, "a trickled head was cut off only after \(after)")
                #expect(connection.received.isEmpty, "a trickled head got an answer: \(connection.text.prefix(80))")
            }
            for connection in bodies {
                let after = try #require(connection.closedAfter)
                // The body deadline counts from the head, sent right after `opened`; the header deadline is shorter.
                #expect(after >= body - early, "a trickled body was cut off after \(after), before the \(body) deadline")
                #expect(after <= body + slack, "a trickled body was cut off only after \(after)")
                #expect(!connection.text.contains("HTTP/1.1 201"), "a start with a trickled body was served")
            }
            #expect(!answers.isEmpty)
            #expect(answers.allSatisfy { $0.status == 200 }, "statuses of /healthz while trickling: \(answers.map { $0.status })")
            let mostOpen = answers.map { $0.openTricklers }.max() ?? 0
            #expect(mostOpen >= trickling.count / 2, "at most \(mostOpen) trickling connections were open at any /healthz answer")

            // The kept-alive connection goes at the idle timeout after its last answer.
            try await waitUntil("the kept-alive connection closed at the idle timeout", timeout: .seconds(30)) { keptAlive.isClosed }
            let idleFor = try #require(keptAlive.closedAt) - lastAnswer
            #expect(idleFor >= idle - early, "a kept-alive connection was closed after \(idleFor) idle, before the \(idle) timeout")

            #expect(try await server.stop(signal: SIGTERM) == 0)
        }

        /// With every slot of `OTPGATE_MAX_CONNECTIONS` held by kept-alive connections, each further connection is
        /// answered 503 and closed at once (long before any deadline), the held ones still serve, and a slot given
        /// back serves a new connection.
        @Test func connectionsOverTheCapAreAnswered503AndClosed() async throws {
            let cap = 40
            let dir = try temporaryDirectory()
            let server = try await OTPGateServerProcess.start(
                directory: dir,
                environment: [
                    "OTPGATE_MAX_CONNECTIONS": "\(cap)", "OTPGATE_HEADER_TIMEOUT_SECONDS": "60", "OTPGATE_IDLE_TIMEOUT_SECONDS": "120",
                ])
            var held: [RawConnection] = []
            for _ in 0..<cap {
                let connection = try await RawConnection.open(port: server.port)
                connection.send("GET /healthz HTTP/1.1\r\nHost: otpgate\r\n\r\n")
                try await waitUntil("a connection within the cap answered", timeout: .seconds(10)) { connection.answers(200) == 1 }
                held.append(connection)
            }

            var refused: [RawConnection] = []
            for _ in 0..<20 { refused.append(try await RawConnection.open(port: server.port)) }
            try await waitUntil("every connection over the cap closed by the server", timeout: .seconds(20)) {
                refused.allSatisfy(\.isClosed)
            }
            for connection in refused {
                #expect(connection.text.hasPrefix("HTTP/1.1 503"), "over the cap: \(connection.text.prefix(80))")
                let after = try #require(connection.closedAfter)
                #expect(after < .seconds(10), "a connection over the cap was closed only after \(after)")
            }
            #expect(held.allSatisfy { !$0.isClosed })
            held[0].send("GET /healthz HTTP/1.1\r\nHost: otpgate\r\n\r\n")
            try await waitUntil("a held connection answered again", timeout: .seconds(10)) { held[0].answers(200) == 2 }
            try await waitUntil("the cap's warning in the log", timeout: .seconds(10)) { server.stderr.contains("connection cap reached") }

            // Slots come back when connections close.
            for connection in held.suffix(5) { connection.close() }
            try await waitUntil("a new connection served once slots were given back", timeout: .seconds(20), every: .milliseconds(200)) {
                let probe = try await RawConnection.open(port: server.port)
                defer { probe.close() }
                probe.send("GET /healthz HTTP/1.1\r\nHost: otpgate\r\n\r\n")
                let deadline = ContinuousClock.now + .seconds(2)
                while !probe.isClosed, probe.received.isEmpty, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                return probe.answers(200) == 1
            }

            #expect(try await server.stop(signal: SIGTERM) == 0)
            for connection in held { connection.close() }
        }
    }
}

/// The slow-client settings' defaults and bounds (the process tests above use them).
@Suite struct SlowClientSettingsTests {
    @Test func defaultsAndBounds() throws {
        let defaults = try ServerSettings(environment: [:])
        #expect(defaults.idleTimeout == .seconds(75))
        #expect(defaults.headerTimeout == .seconds(10))
        #expect(defaults.bodyTimeout == .seconds(30))
        #expect(defaults.maxConnections == 10_000)
        let tuned = try ServerSettings(environment: [
            "OTPGATE_IDLE_TIMEOUT_SECONDS": "3600", "OTPGATE_HEADER_TIMEOUT_SECONDS": "1", "OTPGATE_BODY_TIMEOUT_SECONDS": "600",
            "OTPGATE_MAX_CONNECTIONS": "1",
        ])
        #expect(tuned.idleTimeout == .seconds(3600))
        #expect(tuned.headerTimeout == .seconds(1))
        #expect(tuned.bodyTimeout == .seconds(600))
        #expect(tuned.maxConnections == 1)
        #expect(tuned.unrecognizedVariables.isEmpty)
        for (name, value) in [
            ("OTPGATE_IDLE_TIMEOUT_SECONDS", "0"), ("OTPGATE_IDLE_TIMEOUT_SECONDS", "3601"), ("OTPGATE_HEADER_TIMEOUT_SECONDS", "0"),
            ("OTPGATE_HEADER_TIMEOUT_SECONDS", "301"), ("OTPGATE_BODY_TIMEOUT_SECONDS", "0"), ("OTPGATE_BODY_TIMEOUT_SECONDS", "601"),
            ("OTPGATE_MAX_CONNECTIONS", "0"), ("OTPGATE_MAX_CONNECTIONS", "1000001"), ("OTPGATE_MAX_CONNECTIONS", "lots"),
        ] {
            let error = #expect(throws: ConfigurationError.self) { try ServerSettings(environment: [name: value]) }
            #expect(error.map { "\($0)".contains(name) } == true, "\(name)=\(value): \(String(describing: error))")
        }
    }
}

/// One raw TCP connection to the server, through NIO: what it received, and when the server closed it (an end of
/// stream or a reset; the test never closes one itself before it has looked).
final class RawConnection: Sendable {
    let channel: any Channel
    /// When the connection was established (before anything was sent on it).
    let opened: ContinuousClock.Instant
    private let record: Record

    final class Record: Sendable {
        struct State {
            var bytes: [UInt8] = []
            var closed: ContinuousClock.Instant?
        }
        let state = Mutex(State())
    }

    private init(channel: any Channel, opened: ContinuousClock.Instant, record: Record) {
        self.channel = channel
        self.opened = opened
        self.record = record
    }

    static func open(port: Int) async throws -> RawConnection {
        let record = Record()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.closeFuture.whenComplete { _ in
                    let now = ContinuousClock.now
                    record.state.withLock { $0.closed = now }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(record: record))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, opened: ContinuousClock.now, record: record)
    }

    func send(_ text: String) {
        channel.writeAndFlush(ByteBuffer(string: text), promise: nil)
    }

    func close() {
        channel.close(promise: nil)
    }

    var received: [UInt8] { record.state.withLock { $0.bytes } }
    var text: String { String(decoding: received, as: UTF8.self) }
    var closedAt: ContinuousClock.Instant? { record.state.withLock { $0.closed } }
    var isClosed: Bool { closedAt != nil }
    /// How long after `opened` the connection closed.
    var closedAfter: Duration? { closedAt.map { $0 - opened } }

    /// Responses with this status received so far.
    func answers(_ status: Int) -> Int {
        text.components(separatedBy: "HTTP/1.1 \(status) ").count - 1
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let record: Record

        init(record: Record) { self.record = record }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(Self.unwrapInboundIn(data).readableBytesView)
            record.state.withLock { $0.bytes += bytes }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
