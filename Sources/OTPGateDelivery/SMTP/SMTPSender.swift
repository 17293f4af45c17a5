import Foundation
public import NIOCore
public import NIOPosix
public import NIOSSL
public import OTPGateCore
import Synchronization

/// Email over SMTP (`OTPGATE_SMTP_URL`): each message is one mail transaction on a connection kept open for the
/// next, so a burst of codes costs one handshake per connection, not per message.
public final class SMTPSender: MessageSender {
    public let name = "smtp"
    let configuration: SMTPConfiguration
    private let tls: NIOSSLContext?
    private let group: any EventLoopGroup
    /// Connections between messages, with when each was last used.
    private let idle = Mutex<[(connection: SMTPConnection, since: ContinuousClock.Instant)]>([])

    /// Loads the TLS trust (the system's roots, plus `caFile`); certificates are always verified.
    public init(_ configuration: SMTPConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.configuration = configuration
        self.group = group
        if configuration.security == .none {
            tls = nil
        } else {
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            tlsConfiguration.minimumTLSVersion = .tlsv12
            if let caFile = configuration.caFile { tlsConfiguration.additionalTrustRoots = [.file(caFile)] }
            tls = try NIOSSLContext(configuration: tlsConfiguration)
        }
    }

    public func send(_ message: OutgoingMessage) async throws -> SendReceipt {
        guard message.channel == .email else { throw DeliveryError.permanent("the SMTP provider delivers email only") }
        let messageID = "\(message.messageID)@\(configuration.from.split(separator: "@").last ?? "otpgate")"
        let mime = MIMEMessage(
            from: configuration.from, fromName: configuration.fromName, to: message.destination, subject: message.subject ?? "",
            text: message.text, html: message.html, messageID: messageID, date: Date())
        let data = try mime.encoded(boundary: "=_otpgate_" + message.messageID.filter { $0.isLetter || $0.isNumber })
        // A kept connection may have been closed by the server meanwhile: if it fails before the data went out, the
        // message goes on a new one (nothing was accepted, so nothing is sent twice).
        if let connection = takeIdle() {
            do {
                try await connection.submit(from: configuration.from, to: message.destination, data: data)
                putBack(connection)
                return SendReceipt(providerMessageID: messageID)
            } catch let error as DeliveryError {
                putBack(connection)
                throw error
            } catch {
                connection.close()
            }
        }
        let connection = try await SMTPConnection.open(configuration, tls: tls, group: group)
        do {
            try await connection.submit(from: configuration.from, to: message.destination, data: data)
        } catch {
            if error is DeliveryError { putBack(connection) } else { connection.close() }
            throw SMTPConnection.deliveryError(error, stage: "transaction")
        }
        putBack(connection)
        return SendReceipt(providerMessageID: messageID)
    }

    private func takeIdle() -> SMTPConnection? {
        let (usable, stale) = idle.withLock { connections -> (SMTPConnection?, [SMTPConnection]) in
            var stale: [SMTPConnection] = []
            while let (connection, since) = connections.popLast() {
                if connection.isActive, ContinuousClock.now - since < configuration.idleTimeout { return (connection, stale) }
                stale.append(connection)
            }
            return (nil, stale)
        }
        for connection in stale { connection.close() }
        return usable
    }

    private func putBack(_ connection: SMTPConnection) {
        guard connection.isActive else { return }
        let kept = idle.withLock { connections in
            guard connections.count < configuration.maxIdleConnections else { return false }
            connections.append((connection, .now))
            return true
        }
        if !kept { connection.quit() }
    }

    /// Ends the kept sessions politely (on shutdown).
    public func closeIdleConnections() {
        let kept = idle.withLock { connections in
            defer { connections.removeAll() }
            return connections.map(\.connection)
        }
        for connection in kept { connection.quit() }
    }
}
