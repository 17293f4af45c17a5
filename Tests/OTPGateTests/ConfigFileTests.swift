import Foundation
import OTPGateCore
import OTPGateDelivery
import Testing

@testable import OTPGateServer

/// `--config FILE`: YAML settings, nested or dotted, read through swift-configuration's file provider, with
/// environment variables winning; unknown keys named; a broken file refused; the shipped example loads.
@Suite struct ConfigFileTests {
    func write(_ yaml: String) throws -> String {
        let path = try temporaryDirectory().appendingPathComponent("otpgate.yaml").path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func nestedAndDottedKeysAreRead() async throws {
        let path = try write(
            """
            otpgate:
              port: 9090
              env: development
              smtp:
                url: smtp://mailer:pw@127.0.0.1:2525?starttls=optional
                from: Acme Bank <otp@acme.example>
              sms.webhook.url: https://gw.example/sms
              sms:
                webhook:
                  secret: "0123456789abcdef0123"
                sender: ACMEBK
              outbox.max.attempts: 7
              policy:
                ttl:
                  seconds: 300
            """)
        let settings = try ServerSettings(environment: [:], file: try await ConfigFile.load(path: path))
        #expect(settings.port == 9090)
        #expect(settings.delivery.smtp?.host == "127.0.0.1")
        #expect(settings.delivery.smtp?.port == 2525)
        #expect(settings.delivery.smtp?.username == "mailer")
        #expect(settings.delivery.smtp?.fromName == "Acme Bank")
        #expect(settings.delivery.smsProvider == .webhook)
        #expect(settings.delivery.dlt.sender == "ACMEBK")
        #expect(settings.delivery.maxAttempts == 7)
        #expect(settings.policy.defaultTTLSeconds == 300)
        #expect(settings.unrecognizedVariables.isEmpty)
    }

    @Test func environmentVariablesWinOverTheFile() async throws {
        let path = try write("otpgate:\n  port: 9090\n  host: 0.0.0.0\n")
        let settings = try ServerSettings(environment: ["OTPGATE_PORT": "7070"], file: try await ConfigFile.load(path: path))
        #expect(settings.port == 7070)
        #expect(settings.host == "0.0.0.0")
    }

    @Test func unknownKeysAreNamedAndBadValuesRefused() async throws {
        let unknown = try write("otpgate:\n  smtp:\n    uri: smtp://x\n")
        let settings = try ServerSettings(environment: [:], file: try await ConfigFile.load(path: unknown))
        #expect(settings.unrecognizedVariables == ["otpgate.smtp.uri (in \(unknown))"])
        let bad = try write("otpgate:\n  port: eighty\n")
        let file = try await ConfigFile.load(path: bad)
        #expect(throws: ConfigurationError.self) { _ = try ServerSettings(environment: [:], file: file) }
    }

    @Test func aBrokenOrMissingFileIsRefused() async throws {
        for yaml in ["otpgate: [unclosed", "- a list\n- not a mapping\n", ""] {
            let path = try write(yaml)
            await #expect(throws: ConfigurationError.self) { _ = try await ConfigFile.load(path: path) }
        }
        await #expect(throws: ConfigurationError.self) { _ = try await ConfigFile.load(path: "/nonexistent/otpgate.yaml") }
    }

    @Test func theShippedExampleLoads() async throws {
        let example = SMTPTestServer.repository.appendingPathComponent("deploy/otpgate.example.yaml").path
        // Its secrets come from the environment, as it says.
        let settings = try ServerSettings(environment: ["OTPGATE_MSG91_AUTH_KEY": "key"], file: try await ConfigFile.load(path: example))
        #expect(settings.unrecognizedVariables.isEmpty, "\(settings.unrecognizedVariables)")
        #expect(settings.environment == .production)
        #expect(settings.delivery.smtp != nil)
        #expect(settings.delivery.smsProvider == .msg91)
    }
}
