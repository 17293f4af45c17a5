import Foundation
import OTPGateCore
import OTPGateDelivery
import Testing

/// The SMTP client against a real SMTP server (aiosmtpd) on loopback: plain, STARTTLS and implicit TLS with a
/// private CA, AUTH PLAIN and LOGIN, refusals, a dropped connection, a slow server, connection reuse, and the MIME it
/// writes.
@Suite struct SMTPDeliveryTests {
    static let certs = SMTPTestServer.certificates

    static func message(to: String = "riya@example.com", text: String = "482913 is your code.", subject: String? = "Your code", html: String? = nil)
        -> OutgoingMessage
    {
        OutgoingMessage(
            messageID: "vrf_\(UUID().uuidString.prefix(8).lowercased()).1", tenantID: "ten_a", verificationID: "vrf_a", channel: .email,
            destination: to,
            subject: subject, text: text, html: html)
    }

    static func sender(_ url: String, from: String = "OTPGate <otp@bank.example>", ca: String? = nil, timeout: Duration = .seconds(10)) throws
        -> SMTPSender
    {
        var configuration = try SMTPConfiguration(url: url, from: from, caFile: ca)
        configuration.commandTimeout = timeout
        return try SMTPSender(configuration)
    }

    static func deliveryError(_ body: () async throws -> Void) async -> DeliveryError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? DeliveryError
        }
    }

    @Test func aPlainSessionDeliversTheMessageWithItsHeadersAndCode() async throws {
        let server = try await SMTPTestServer.start()
        let sender = try Self.sender("smtp://127.0.0.1:\(server.port)?starttls=never")
        let receipt = try await sender.send(Self.message(text: "482913 is your code.\n.hidden line stays"))
        let mail = try #require(try await server.waitForMails(1).first)
        #expect(mail.mailFrom == "otp@bank.example")
        #expect(mail.recipients == ["riya@example.com"])
        #expect(mail.header("From") == "\"OTPGate\" <otp@bank.example>")
        #expect(mail.header("To") == "<riya@example.com>")
        #expect(mail.header("Subject") == "Your code")
        #expect(mail.header("Message-ID") == "<\(try #require(receipt.providerMessageID))>")
        #expect(mail.decodedBody.contains("482913 is your code."))
        // A body line starting with "." arrives intact (dot-stuffed on the wire, unstuffed by the server).
        #expect(mail.decodedBody.contains("\r\n.hidden line stays"))
        #expect(!mail.tls)
    }

    @Test func textAndHTMLPartsAndAUnicodeSubjectAreEncoded() async throws {
        let server = try await SMTPTestServer.start()
        let sender = try Self.sender("smtp://127.0.0.1:\(server.port)?starttls=never")
        _ = try await sender.send(Self.message(text: "482913 आपका कोड है", subject: "आपका OTP कोड", html: "<p><b>482913</b> is your code</p>"))
        let mail = try #require(try await server.waitForMails(1).first)
        let subject = try #require(mail.header("Subject"))
        #expect(subject.hasPrefix("=?UTF-8?B?"))
        let decoded = subject.split(separator: "?").count >= 4 ? Data(base64Encoded: String(subject.split(separator: "?")[3])) : nil
        #expect(decoded.map { String(decoding: $0, as: UTF8.self) }?.hasPrefix("आपका") == true)
        #expect(mail.header("Content-Type")?.hasPrefix("multipart/alternative") == true)
        #expect(mail.decodedBody.contains("482913 आपका कोड है"))
        #expect(mail.decodedBody.contains("<p><b>482913</b> is your code</p>"))
        // Every line on the wire is 7-bit and at most 78 characters (RFC 5322), whatever the text.
        for line in mail.data.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 78 && line.utf8.allSatisfy { $0 < 0x80 }, "\(line)")
        }
    }

    @Test func noValueCanAddAHeader() async throws {
        let server = try await SMTPTestServer.start()
        let sender = try Self.sender("smtp://127.0.0.1:\(server.port)?starttls=never")
        for subject in ["Code\r\nBcc: thief@example.com", "Code\nBcc: thief@example.com", "Code\rX: y"] {
            let error = await Self.deliveryError { _ = try await sender.send(Self.message(subject: subject)) }
            #expect(error == .permanent("a header value contains a line break"))
        }
        let error = await Self.deliveryError { _ = try await sender.send(Self.message(to: "riya@example.com>\r\nBcc: thief@example.com")) }
        #expect(error?.retryable == false)
        #expect(server.mails.isEmpty)
    }

    @Test func startTLSWithThePrivateCAIsVerifiedAndUsed() async throws {
        let server = try await SMTPTestServer.start(["--starttls", Self.certs.certificate, Self.certs.key, "--require-starttls"])
        let sender = try Self.sender("smtp://localhost:\(server.port)", ca: Self.certs.ca)
        _ = try await sender.send(Self.message())
        #expect(try await server.waitForMails(1).first?.tls == true)
    }

    @Test func anUntrustedCertificateIsRefusedForGood() async throws {
        let server = try await SMTPTestServer.start(["--starttls", Self.certs.certificate, Self.certs.key])
        let sender = try Self.sender("smtp://localhost:\(server.port)")
        let error = await Self.deliveryError { _ = try await sender.send(Self.message()) }
        #expect(error?.retryable == false)
        #expect(error?.reason.contains("TLS") == true)
        #expect(server.mails.isEmpty)
    }

    @Test func startTLSIsRequiredUnlessTheURLSaysOtherwise() async throws {
        let server = try await SMTPTestServer.start()
        let required = try Self.sender("smtp://127.0.0.1:\(server.port)")
        let error = await Self.deliveryError { _ = try await required.send(Self.message()) }
        #expect(error?.retryable == false)
        #expect(error?.reason.contains("STARTTLS") == true)
        let optional = try Self.sender("smtp://127.0.0.1:\(server.port)?starttls=optional")
        _ = try await optional.send(Self.message())
        #expect(try await server.waitForMails(1).count == 1)
    }

    @Test func implicitTLSDelivers() async throws {
        let server = try await SMTPTestServer.start(["--implicit-tls", Self.certs.certificate, Self.certs.key])
        let sender = try Self.sender("smtps://localhost:\(server.port)", ca: Self.certs.ca)
        _ = try await sender.send(Self.message())
        #expect(try await server.waitForMails(1).first?.tls == true)
    }

    @Test(arguments: ["PLAIN", "LOGIN"]) func authenticatesWithEitherMechanism(mechanism: String) async throws {
        let other = mechanism == "PLAIN" ? "LOGIN" : "PLAIN"
        let server = try await SMTPTestServer.start([
            "--starttls", Self.certs.certificate, Self.certs.key, "--auth", "mailer:s3cret:with:colons", "--require-auth", "--auth-exclude", other,
        ])
        let sender = try Self.sender("smtp://mailer:s3cret%3Awith%3Acolons@localhost:\(server.port)", ca: Self.certs.ca)
        _ = try await sender.send(Self.message())
        #expect(try await server.waitForMails(1).first?.authUser == "mailer")
    }

    @Test func wrongCredentialsFailForGood() async throws {
        let server = try await SMTPTestServer.start([
            "--starttls", Self.certs.certificate, Self.certs.key, "--auth", "mailer:right", "--require-auth",
        ])
        let sender = try Self.sender("smtp://mailer:wrong@localhost:\(server.port)", ca: Self.certs.ca)
        let error = await Self.deliveryError { _ = try await sender.send(Self.message()) }
        #expect(error == .permanent("SMTP 535 5.7.8 at AUTH"))
    }

    @Test func credentialsAreNeverSentInClear() throws {
        #expect(throws: SMTPConfigurationError.self) { _ = try SMTPConfiguration(url: "smtp://u:p@127.0.0.1:25?starttls=never", from: "a@b.example") }
    }

    @Test func aRefusedRecipientIsPermanentAndATemporaryRefusalIsRetried() async throws {
        let server = try await SMTPTestServer.start(["--refuse-recipient", "nobody", "--tempfail-recipient", "later"])
        let sender = try Self.sender("smtp://127.0.0.1:\(server.port)?starttls=never")
        let refused = await Self.deliveryError { _ = try await sender.send(Self.message(to: "nobody@example.com")) }
        #expect(refused == .permanent("SMTP 550 5.1.1 at RCPT"))
        let deferred = await Self.deliveryError { _ = try await sender.send(Self.message(to: "later@example.com")) }
        #expect(deferred == .retryable("SMTP 451 4.3.0 at RCPT"))
        // The refusals reset the transaction; the same connection then delivers.
        _ = try await sender.send(Self.message())
        let mails = try await server.waitForMails(1)
        #expect(mails.map(\.recipients) == [["riya@example.com"]])
    }

    @Test func aDroppedConnectionIsRetryable() async throws {
        let server = try await SMTPTestServer.start(["--drop-after-mail"])
        let sender = try Self.sender("smtp://127.0.0.1:\(server.port)?starttls=never")
        let error = await Self.deliveryError { _ = try await sender.send(Self.message()) }
        #expect(error?.retryable == true)
        #expect(server.mails.isEmpty)
    }

    @Test func aSlowServerTimesOutAndIsRetryable() async throws {
        let server = try await SMTPTestServer.start(["--delay", "20"])
        let sender = try Self.sender("smtp://127.0.0.1:\(server.port)?starttls=never", timeout: .seconds(1))
        let started = ContinuousClock.now
        let error = await Self.deliveryError { _ = try await sender.send(Self.message()) }
        #expect(error?.retryable == true)
        #expect(error?.reason.contains("timed out") == true)
        // Cut off by the timeout, not by the answer (20 s).
        #expect(ContinuousClock.now - started < .seconds(15))
    }

    @Test func anUnreachableServerIsRetryable() async throws {
        let server = try await SMTPTestServer.start()
        let port = server.port
        server.stop()
        let sender = try Self.sender("smtp://127.0.0.1:\(port)?starttls=never")
        let error = await Self.deliveryError { _ = try await sender.send(Self.message()) }
        #expect(error?.retryable == true)
    }

    @Test func oneConnectionCarriesSuccessiveMessages() async throws {
        let server = try await SMTPTestServer.start(["--starttls", Self.certs.certificate, Self.certs.key])
        let sender = try Self.sender("smtp://localhost:\(server.port)", ca: Self.certs.ca)
        for _ in 0..<3 { _ = try await sender.send(Self.message()) }
        let mails = try await server.waitForMails(3)
        #expect(Set(mails.map(\.peerPort)).count == 1)
    }

    @Test func aKeptConnectionTheServerClosedIsReplacedWithoutLosingTheMessage() async throws {
        let server = try await SMTPTestServer.start()
        let sender = try Self.sender("smtp://127.0.0.1:\(server.port)?starttls=never")
        _ = try await sender.send(Self.message())
        // An outage: the server answers 421 and closes the connection the sender kept.
        try server.setDown(true)
        let down = await Self.deliveryError { _ = try await sender.send(Self.message()) }
        #expect(down?.retryable == true)
        try server.setDown(false)
        _ = try await sender.send(Self.message())
        #expect(try await server.waitForMails(2).count == 2)
    }
}
