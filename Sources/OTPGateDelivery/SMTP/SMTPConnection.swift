import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import OTPGateCore

/// One open session with the SMTP server, past greeting, EHLO, TLS and AUTH: ready for mail transactions, one at a
/// time, as often as the server allows (connections are reused across messages by `SMTPSender`).
final class SMTPConnection: Sendable {
    private let channel: any NIOCore.Channel
    private let handler: NIOLoopBound<SMTPReplyHandler>
    private let timeout: Duration
    /// EHLO keywords (uppercased) and their parameters, as last announced (after STARTTLS, the second EHLO's).
    let extensions: [String: String]

    private init(channel: any NIOCore.Channel, handler: NIOLoopBound<SMTPReplyHandler>, timeout: Duration, extensions: [String: String]) {
        self.channel = channel
        self.handler = handler
        self.timeout = timeout
        self.extensions = extensions
    }

    var isActive: Bool { channel.isActive }

    /// Connects and walks the session to the point where mail can be submitted. Throws `DeliveryError`.
    static func open(_ config: SMTPConfiguration, tls: NIOSSLContext?, group: any EventLoopGroup) async throws -> SMTPConnection {
        let sni = Self.isIPAddress(config.host) ? nil : config.host
        let implicit = config.security == .implicitTLS
        let channel: any NIOCore.Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(Self.timeAmount(config.connectTimeout))
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if implicit, let tls {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: sni))
                        }
                        try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler())
                    }
                }
                .connect(host: config.host, port: config.port).get()
        } catch {
            throw DeliveryError.retryable("SMTP connect failed: \(Self.describe(error))")
        }
        do {
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self), eventLoop: channel.eventLoop)
            }.get()
            var connection = SMTPConnection(channel: channel, handler: handler, timeout: config.commandTimeout, extensions: [:])
            try await connection.expectReply(to: "greeting", try await connection.replies(count: 1)[0], codes: [220])
            var extensions = try await connection.ehlo(config.heloName)
            var secured = implicit
            let offered = extensions["STARTTLS"] != nil
            switch config.security {
            case .startTLS where !offered:
                throw DeliveryError.permanent(
                    "SMTP server does not offer STARTTLS (set starttls=optional or never in OTPGATE_SMTP_URL to allow clear text)")
            case .startTLS, .startTLSIfOffered:
                if offered, let tls {
                    try await connection.expectReply(to: "STARTTLS", try await connection.command("STARTTLS"), codes: [220])
                    try await channel.eventLoop.submit {
                        guard !handler.value.hasUnrequestedInput else { throw SMTPTransportError.malformedReply }
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: sni), position: .first)
                    }.get()
                    secured = true
                    // RFC 3207 §4.2: everything learnt before TLS is forgotten; ask again.
                    extensions = try await connection.ehlo(config.heloName)
                }
            case .implicitTLS, .none: break
            }
            connection = SMTPConnection(channel: channel, handler: handler, timeout: config.commandTimeout, extensions: extensions)
            if let username = config.username {
                guard secured else { throw DeliveryError.permanent("SMTP credentials are never sent without TLS") }
                try await connection.authenticate(username: username, password: config.password ?? "")
            }
            return connection
        } catch {
            channel.close(promise: nil)
            throw Self.deliveryError(error, stage: "session")
        }
    }

    private func ehlo(_ name: String) async throws -> [String: String] {
        let reply = try await command("EHLO \(name)")
        try expectReply(to: "EHLO", reply, codes: [250])
        var extensions: [String: String] = [:]
        for line in reply.lines.dropFirst() {
            let words = line.split(separator: " ", maxSplits: 1)
            guard let keyword = words.first else { continue }
            extensions[keyword.uppercased()] = words.count > 1 ? String(words[1]) : ""
        }
        return extensions
    }

    private func authenticate(username: String, password: String) async throws {
        let mechanisms = Set((extensions["AUTH"] ?? "").uppercased().split(separator: " ").map(String.init))
        if mechanisms.contains("PLAIN") {
            let token = Data(([0] + Array(username.utf8) + [0] + Array(password.utf8))).base64EncodedString()
            try expectReply(to: "AUTH", try await command("AUTH PLAIN \(token)"), codes: [235])
        } else if mechanisms.contains("LOGIN") {
            try expectReply(to: "AUTH", try await command("AUTH LOGIN"), codes: [334])
            try expectReply(to: "AUTH", try await command(Data(username.utf8).base64EncodedString()), codes: [334])
            try expectReply(to: "AUTH", try await command(Data(password.utf8).base64EncodedString()), codes: [235])
        } else {
            throw DeliveryError.permanent("SMTP server offers neither AUTH PLAIN nor LOGIN")
        }
    }

    /// One mail transaction: the envelope (pipelined when the server offers PIPELINING, RFC 2920), then the data.
    /// After a refusal the transaction is reset, so the connection stays usable.
    func submit(from: String, to: String, data: [UInt8]) async throws {
        let envelope = ["MAIL FROM:<\(from)>", "RCPT TO:<\(to)>", "DATA"]
        let stages = ["MAIL", "RCPT", "DATA"]
        let expected: [Set<Int>] = [[250], [250, 251], [354]]
        var replies: [SMTPReply] = []
        if extensions["PIPELINING"] != nil {
            replies = try await commands(envelope)
        } else {
            for line in envelope {
                let reply = try await command(line)
                replies.append(reply)
                if !reply.isPositive { break }
            }
        }
        for (index, reply) in replies.enumerated() where !expected[index].contains(reply.code) {
            if replies.count == 3, replies[2].code == 354 {
                // The server took DATA despite an earlier refusal: the session's state is unclear; do not reuse it.
                close()
            } else {
                _ = try? await command("RSET")
            }
            throw Self.refusal(reply, stage: stages[index])
        }
        let reply: SMTPReply
        do {
            reply = try await write(data + Array(".\r\n".utf8))
        } catch {
            // The server may have taken the message before the connection failed: retried later, not at once.
            throw DeliveryError.retryable("SMTP end of DATA failed: \(Self.describe(error))")
        }
        guard reply.code == 250 else {
            throw Self.refusal(reply, stage: "end of DATA")
        }
    }

    func quit() {
        let channel = self.channel
        Task {
            _ = try? await command("QUIT")
            try? await channel.close()
        }
    }

    func close() { channel.close(promise: nil) }

    // MARK: the wire

    private func command(_ line: String) async throws -> SMTPReply {
        try await commands([line])[0]
    }

    private func commands(_ lines: [String]) async throws -> [SMTPReply] {
        try await write(Array((lines.joined(separator: "\r\n") + "\r\n").utf8), replies: lines.count)
    }

    private func write(_ bytes: [UInt8]) async throws -> SMTPReply { try await write(bytes, replies: 1)[0] }

    /// Registers for `count` replies, then writes `bytes`; waits for them, for at most the command timeout each.
    private func write(_ bytes: [UInt8], replies count: Int) async throws -> [SMTPReply] {
        let futures = try await channel.eventLoop.submit { [channel, handler] in
            let promises = (0..<count).map { _ in channel.eventLoop.makePromise(of: SMTPReply.self) }
            for promise in promises { handler.value.expect(promise) }
            channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
            return promises.map(\.futureResult)
        }.get()
        var replies: [SMTPReply] = []
        for future in futures { replies.append(try await withTimeout(future)) }
        return replies
    }

    private func replies(count: Int) async throws -> [SMTPReply] {
        let futures = try await channel.eventLoop.submit { [channel, handler] in
            let promises = (0..<count).map { _ in channel.eventLoop.makePromise(of: SMTPReply.self) }
            for promise in promises { handler.value.expect(promise) }
            return promises.map(\.futureResult)
        }.get()
        var replies: [SMTPReply] = []
        for future in futures { replies.append(try await withTimeout(future)) }
        return replies
    }

    /// A reply that does not come in time fails the connection: its state is unknown from then on.
    private func withTimeout(_ future: EventLoopFuture<SMTPReply>) async throws -> SMTPReply {
        let (handler, channel) = (self.handler, self.channel)
        let deadline = channel.eventLoop.scheduleTask(in: Self.timeAmount(timeout)) {
            handler.value.fail(SMTPTransportError.timeout, context: nil)
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        let reply = try await future.get()
        return reply
    }

    private func expectReply(to stage: String, _ reply: SMTPReply, codes: Set<Int>) throws {
        guard codes.contains(reply.code) else { throw Self.refusal(reply, stage: stage) }
    }

    // MARK: errors

    /// A reply the server refused with: 4xx is worth retrying, 5xx is not. The server's text is not kept (it may
    /// repeat the address); its code and enhanced code are.
    static func refusal(_ reply: SMTPReply, stage: String) -> DeliveryError {
        let reason = "SMTP \(reply.code)\(reply.enhancedCode.map { " " + $0 } ?? "") at \(stage)"
        return reply.isTransient ? .retryable(reason) : .permanent(reason)
    }

    static func deliveryError(_ error: any Error, stage: String) -> DeliveryError {
        if let delivery = error as? DeliveryError { return delivery }
        if let ssl = error as? NIOSSLError, case .handshakeFailed = ssl {
            return .permanent("SMTP TLS handshake failed (is the server's certificate trusted? see OTPGATE_SMTP_CA_FILE)")
        }
        if error is BoringSSLError { return .permanent("SMTP TLS handshake failed (is the server's certificate trusted? see OTPGATE_SMTP_CA_FILE)") }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return .permanent("SMTP TLS certificate does not name the server's host")
        }
        return .retryable("SMTP \(stage) failed: \(describe(error))")
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case SMTPTransportError.timeout: "timed out"
        case SMTPTransportError.connectionClosed: "connection closed"
        case SMTPTransportError.malformedReply, SMTPTransportError.replyTooLong: "malformed reply"
        case ChannelError.connectTimeout: "connect timed out"
        default: String(String(describing: error).prefix(200))
        }
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .milliseconds(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
