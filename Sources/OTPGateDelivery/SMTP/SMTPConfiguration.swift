import Foundation
public import OTPGateCore

/// Where and how to submit email: from `OTPGATE_SMTP_URL` (`smtp://` or `smtps://user:pass@host:port`),
/// `OTPGATE_SMTP_FROM` and `OTPGATE_SMTP_CA_FILE`.
public struct SMTPConfiguration: Sendable {
    public enum Security: String, Sendable {
        /// `smtps://`: TLS from the first byte (port 465 by default).
        case implicitTLS
        /// `smtp://` (port 587 by default): STARTTLS, required unless `?starttls=optional` or `never`.
        case startTLS
        /// `smtp://…?starttls=optional`: STARTTLS when the server offers it, otherwise in clear (never with credentials).
        case startTLSIfOffered
        /// `smtp://…?starttls=never`: in clear, for a relay on loopback. Credentials are never sent this way.
        case none
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// The envelope sender and `From:` address.
    public var from: String
    public var fromName: String?
    /// PEM file of the CA that signed the server's certificate, besides the system's roots.
    public var caFile: String?
    /// The name announced in EHLO.
    public var heloName = "localhost"
    public var connectTimeout: Duration = .seconds(10)
    /// The longest any one reply may take (RFC 5321 §4.5.3.2 suggests minutes; an OTP cannot wait that long).
    public var commandTimeout: Duration = .seconds(30)
    /// Connections kept open between messages, and how long one may idle before it is closed.
    public var maxIdleConnections = 4
    public var idleTimeout: Duration = .seconds(30)

    public init(
        host: String, port: Int, security: Security, username: String? = nil, password: String? = nil, from: String, fromName: String? = nil,
        caFile: String? = nil
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.from = from
        self.fromName = fromName
        self.caFile = caFile
    }

    /// Parses the URL and the sender (`otp@example.com` or `Example Bank <otp@example.com>`). Errors name the
    /// setting but never echo the URL (it may hold a password).
    public init(url: String, from: String, caFile: String? = nil) throws(SMTPConfigurationError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), let host = components.host,
            !host.isEmpty
        else { throw SMTPConfigurationError("OTPGATE_SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465") }
        var security: Security
        switch scheme {
        case "smtps": security = .implicitTLS
        case "smtp": security = .startTLS
        default: throw SMTPConfigurationError("OTPGATE_SMTP_URL must start with smtp:// or smtps://")
        }
        for item in components.queryItems ?? [] {
            guard item.name == "starttls", scheme == "smtp" else {
                throw SMTPConfigurationError(
                    "OTPGATE_SMTP_URL has an unknown parameter '\(item.name)' (only starttls=required|optional|never on smtp://)")
            }
            switch item.value {
            case "required": security = .startTLS
            case "optional": security = .startTLSIfOffered
            case "never": security = .none
            default: throw SMTPConfigurationError("OTPGATE_SMTP_URL: starttls must be required, optional or never")
            }
        }
        let port = components.port ?? (security == .implicitTLS ? 465 : 587)
        guard (1...65535).contains(port) else { throw SMTPConfigurationError("OTPGATE_SMTP_URL has an invalid port") }
        let username = components.percentEncodedUser.flatMap { $0.removingPercentEncoding }
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        if username != nil, security == .none {
            throw SMTPConfigurationError("OTPGATE_SMTP_URL: credentials are never sent in clear; drop starttls=never or the credentials")
        }
        let sender = try Self.parseSender(from)
        self.init(
            host: host, port: port, security: security, username: username.flatMap { $0.isEmpty ? nil : $0 }, password: password,
            from: sender.address,
            fromName: sender.name, caFile: caFile)
    }

    static func parseSender(_ raw: String) throws(SMTPConfigurationError) -> (address: String, name: String?) {
        let value = raw.trimmingCharacters(in: .whitespaces)
        var name: String?
        var address = value
        if value.hasSuffix(">"), let open = value.lastIndex(of: "<") {
            address = String(value[value.index(after: open)..<value.index(before: value.endIndex)])
            let display = value[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            name = display.isEmpty ? nil : display
        }
        guard (try? EmailAddress.normalize(address)) != nil, !(name ?? "").contains(where: \.isNewline) else {
            throw SMTPConfigurationError("OTPGATE_SMTP_FROM must be an address, optionally with a name: Example Bank <otp@example.com>")
        }
        return (address, name)
    }
}

public struct SMTPConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
