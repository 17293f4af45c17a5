import Foundation
public import OTPGateCore
import Synchronization

/// The development channel: each message becomes one JSON line on stdout, destination and text in full.
/// It is the only place a code is ever written out, and the server refuses it under `OTPGATE_ENV=production`
/// unless `OTPGATE_ALLOW_CONSOLE_IN_PRODUCTION=true`.
public struct ConsoleSender: MessageSender {
    public let name = "console"
    private let write: @Sendable (String) -> Void

    /// - Parameter write: where lines go; stdout by default.
    public init(write: @escaping @Sendable (String) -> Void = ConsoleSender.standardOutput) {
        self.write = write
    }

    private static let stdout = Mutex(FileHandle.standardOutput)
    public static let standardOutput: @Sendable (String) -> Void = { line in
        stdout.withLock { $0.write(Data((line + "\n").utf8)) }
    }

    public func send(_ message: OutgoingMessage) async throws -> SendReceipt {
        var object: [String: JSONValue] = [
            "type": .string("otpgate.console.message"),
            "message_id": .string(message.messageID),
            "tenant_id": .string(message.tenantID),
            "verification_id": .string(message.verificationID),
            "channel": .string(message.channel.rawValue),
            "to": .string(message.destination),
            "text": .string(message.text),
        ]
        if let subject = message.subject { object["subject"] = .string(subject) }
        if let html = message.html { object["html"] = .string(html) }
        if let template = message.dltTemplateID { object["dlt_template_id"] = .string(template) }
        write(JSONValue.object(object).canonicalText)
        return SendReceipt()
    }
}

/// Drops every message: for benchmarks that measure the server without a delivery channel.
/// Refused in production like the console.
public struct DiscardSender: MessageSender {
    public let name = "discard"
    public init() {}
    public func send(_ message: OutgoingMessage) async throws -> SendReceipt { SendReceipt() }
}
