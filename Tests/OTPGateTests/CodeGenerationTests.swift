import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Synchronization
import Testing

@testable import OTPGateServer

/// Codes: exact lengths, only digits, uniform (no modulo bias), from the CSPRNG in production.
@Suite struct CodeGenerationTests {
    @Test(arguments: Array(4...10))
    func codesHaveExactlyTheRequestedDigits(length: Int) {
        let generator = CodeGenerator(random: SystemRandomSource())
        for _ in 0..<500 {
            let code = generator.generate(length: length)
            #expect(code.count == length)
            #expect(code.allSatisfy { $0.isASCII && $0.isNumber })
        }
    }

    @Test func digitsAreUniform() {
        // 60,000 six-digit codes: each digit position should hold each digit ~6,000 times.
        let generator = CodeGenerator(random: SeededRandom(seed: 2026))
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 6)
        for _ in 0..<60_000 {
            for (position, ch) in generator.generate(length: 6).enumerated() { counts[position][ch.wholeNumberValue!] += 1 }
        }
        for position in counts {
            // Chi-square with 9 degrees of freedom; 27.88 is the 0.1% critical value.
            let chi = position.reduce(0.0) { $0 + pow(Double($1) - 6000, 2) / 6000 }
            #expect(chi < 27.88)
        }
    }

    @Test func leadingZerosAreKept() {
        // A source that always yields zero bytes gives the code 000000, not "0".
        struct Zeros: RandomSource { func bytes(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) } }
        #expect(CodeGenerator(random: Zeros()).generate(length: 6) == "000000")
    }

    @Test func rejectionSamplingDiscardsTheBiasedTail() {
        // The first draw is in the tail of 2^64 that does not divide by 10^6 and must be rejected; the second is used.
        final class Scripted: RandomSource, Sendable {
            let draws = Mutex<[UInt64]>([UInt64.max - 3, 1_234_567])
            func bytes(_ count: Int) -> [UInt8] {
                let value = draws.withLock { $0.removeFirst() }
                return (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
            }
        }
        #expect(Scripted().uniform(below: 1_000_000) == 234_567)
    }

    @Test func theSystemSourceIsNotConstant() {
        let a = SystemRandomSource().bytes(32)
        let b = SystemRandomSource().bytes(32)
        #expect(a != b)
        #expect(a.count == 32)
    }

    @Test func codeHashesAreKeyedAndBoundToTheVerification() {
        let hasher = CodeHasher(secret: Array(repeating: 1, count: 32))
        let other = CodeHasher(secret: Array(repeating: 2, count: 32))
        // Known answer: HMAC-SHA256(key = 32 × 0x01, "vrf_a:123456"), computed independently (Python's hmac).
        let expected = "53a502ac3376a8dacee8e27815419f8c8b3b870a5247cf95174a6ed355a558fc"
        #expect(hasher.hash(code: "123456", verificationID: "vrf_a").map { String(format: "%02x", $0) }.joined() == expected)
        #expect(hasher.hash(code: "123456", verificationID: "vrf_a") != hasher.hash(code: "123457", verificationID: "vrf_a"))
        #expect(hasher.hash(code: "123456", verificationID: "vrf_a") != hasher.hash(code: "123456", verificationID: "vrf_b"))
        #expect(hasher.hash(code: "123456", verificationID: "vrf_a") != other.hash(code: "123456", verificationID: "vrf_a"))
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
    }

    @Test func identifiersArePrefixedAndOpaque() {
        let id = Identifier.make("vrf", random: SystemRandomSource())
        #expect(Identifier.isWellFormed(id, prefix: "vrf"))
        #expect(!Identifier.isWellFormed(id, prefix: "ten"))
        #expect(!Identifier.isWellFormed("vrf_../../etc", prefix: "vrf"))
        // Exactly 26 letters of the lowercase base32 alphabet after `prefix_`, byte for byte.
        let body = String(id.dropFirst(4))
        #expect(Identifier.isWellFormed("vrf_" + body, prefix: "vrf"))
        #expect(!Identifier.isWellFormed("vrf-" + body, prefix: "vrf"))
        #expect(!Identifier.isWellFormed("vrf_" + body.dropLast(), prefix: "vrf"))
        #expect(!Identifier.isWellFormed("vrf_" + body + "a", prefix: "vrf"))
        #expect(!Identifier.isWellFormed("vrf_" + body.dropLast() + "1", prefix: "vrf"))
        #expect(!Identifier.isWellFormed("vrf_" + body.dropLast() + "A", prefix: "vrf"))
        #expect(!Identifier.isWellFormed("vrf_" + body.dropLast() + "8", prefix: "vrf"))
        #expect(!Identifier.isWellFormed("vrf_\u{301}" + body.dropLast(), prefix: "vrf"))
        #expect(Identifier.isWellFormed("vrf_" + String(repeating: "z", count: 25) + "2", prefix: "vrf"))
        let key = APIKey.generate(random: SystemRandomSource())
        #expect(APIKey.isWellFormed(key))
        #expect(!APIKey.isWellFormed(String(key.dropLast()) + "8"))
        #expect(!APIKey.isWellFormed(String(key.dropLast()) + "Z"))
        #expect(!APIKey.isWellFormed(String(key.dropLast())))
        #expect(APIKey.hash(key).count == 32)
    }
}

@Suite struct DestinationTests {
    @Test(arguments: [
        ("9876543210", "+919876543210"), ("+91 98765 43210", "+919876543210"), ("09876543210", "+919876543210"),
        ("0091-98765-43210", "+919876543210"), ("(+91) 98765.43210", "+919876543210"), ("+14155550123", "+14155550123"),
        ("+44 20 7946 0958", "+442079460958"),
    ])
    func phoneNumbersNormaliseToE164(raw: String, expected: String) throws {
        #expect(try Destination.parse(raw, channel: .sms).value == expected)
    }

    @Test(arguments: ["", "12345", "+91 5876543210", "+9198765432101", "98765x43210", "+0123456789", "++919876543210", "+91\n9876543210", "+1234567"])
    func invalidPhoneNumbersAreRefused(raw: String) {
        #expect(throws: DestinationError.self) { try Destination.parse(raw, channel: .sms) }
    }

    @Test(arguments: [("A.B+tag@Example.co.in", "a.b+tag@example.co.in"), ("x@y.io", "x@y.io")])
    func emailsAreAccepted(raw: String, expected: String) throws {
        #expect(try Destination.parse(raw, channel: .email).value == expected)
    }

    @Test(arguments: [
        "a@b.com\r\nBcc: c@d.com", "a@b.com\nX", "a@b.com,c@d.com", "a@b.com;c@d.com", "<a@b.com>", "\"a\"@b.com", "a b@c.com",
        "a@b", "a@b.c", "@b.com", "a@", ".a@b.com", "a..b@c.com", "a@-b.com", "a@b..com", "ä@b.com", String(repeating: "a", count: 65) + "@b.com",
    ])
    func unsafeEmailsAreRefused(raw: String) {
        #expect(throws: DestinationError.self) { try Destination.parse(raw, channel: .email) }
    }

    @Test func masksHideMostOfTheDestination() {
        #expect(Destination(unchecked: "+919876543210", channel: .sms).masked == "+91******3210")
        #expect(Destination(unchecked: "priya@example.com", channel: .email).masked == "p***@e******.com")
        // The byte-wise mask of an ASCII number and the character-wise one of anything else keep the same places.
        #expect(PhoneNumber.mask("+1234567") == "+12*4567")
        #expect(PhoneNumber.mask("+123456") == "*******")
        #expect(PhoneNumber.mask("+٩١٩٨٧٦٥٤٣٢١٠") == "+٩١******٣٢١٠")
    }
}

@Suite struct ConfigurationTests {
    @Test func databaseURLs() throws {
        #expect(try DatabaseURL(parsing: "sqlite:data/otp.sqlite") == .sqlite(path: "data/otp.sqlite"))
        #expect(try DatabaseURL(parsing: "sqlite:///var/lib/otp.sqlite") == .sqlite(path: "/var/lib/otp.sqlite"))
        #expect(throws: ConfigurationError.self) { try DatabaseURL(parsing: "mysql://x") }
        #expect(throws: ConfigurationError.self) { try DatabaseURL(parsing: "sqlite:") }
        #expect(DatabaseURL.postgres(url: "postgres://otp:s3cret@db:5432/otp").description == "postgres://otp:***@db:5432/otp")
    }

    /// A dangling symbolic link at the key path is refused with a clear error (issue 12: it used to loop for ever).
    @Test func aDanglingSymlinkAtTheMasterKeyPathIsRefused() throws {
        let dir = try temporaryDirectory()
        let link = "\(dir.path)/db.sqlite.master-key"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "\(dir.path)/missing/key")
        let settings = try ServerSettings(environment: ["OTPGATE_DATABASE_URL": "sqlite:\(dir.path)/db.sqlite"])
        #expect(throws: ConfigurationError.self) { try MasterKey.load(settings: settings, random: SystemRandomSource()) }
    }

    @Test func masterKeyFileIsCreatedPrivateAndReused() throws {
        let dir = try temporaryDirectory()
        let settings = try ServerSettings(environment: ["OTPGATE_DATABASE_URL": "sqlite:\(dir.path)/db.sqlite"])
        let first = try MasterKey.load(settings: settings, random: SystemRandomSource())
        let second = try MasterKey.load(settings: settings, random: SystemRandomSource())
        #expect(first == second)
        #expect(first.count == 32)
        let mode = try FileManager.default.attributesOfItem(atPath: "\(dir.path)/db.sqlite.master-key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(dir.path)/db.sqlite.master-key")
        #expect(throws: ConfigurationError.self) { try MasterKey.load(settings: settings, random: SystemRandomSource()) }
    }

    @Test func masterKeyFromTheEnvironment() throws {
        #expect(try MasterKey.parse(String(repeating: "0f", count: 32)) == [UInt8](repeating: 0x0f, count: 32))
        #expect(try MasterKey.parse(Data(repeating: 7, count: 32).base64EncodedString()) == [UInt8](repeating: 7, count: 32))
        #expect(throws: ConfigurationError.self) { try MasterKey.parse("short") }
        let postgres = try ServerSettings(environment: ["OTPGATE_DATABASE_URL": "postgres://a@b/c"])
        #expect(throws: ConfigurationError.self) { try MasterKey.load(settings: postgres, random: SystemRandomSource()) }
    }

    /// Every policy setting has an upper bound (issue 12): a lock or window of Int.max seconds used to overflow the time
    /// arithmetic of the first request that met it.
    @Test(arguments: [
        "OTPGATE_POLICY_LOCK_SECONDS", "OTPGATE_POLICY_FAILURE_WINDOW_SECONDS", "OTPGATE_POLICY_START_WINDOW_SECONDS",
        "OTPGATE_POLICY_STARTS_PER_DESTINATION", "OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND",
    ])
    func policySettingsAreBoundedAbove(name: String) throws {
        #expect(throws: ConfigurationError.self) { try ServerSettings(environment: [name: String(Int.max)]) }
        #expect(throws: ConfigurationError.self) { try ServerSettings(environment: [name: "2592001"]) }
        var limits = Policy()
        limits.lockSeconds = 30 * 86_400
        limits.failureWindowSeconds = 30 * 86_400
        limits.startWindowSeconds = 30 * 86_400
        limits.startsPerDestination = 10_000
        limits.requestsPerKeyPerSecond = 1_000_000
        try ServerSettings.validate(limits)
    }

    @Test func postgresPoolAndBatchSettings() throws {
        let defaults = try ServerSettings(environment: [:])
        #expect(defaults.postgresPoolSize == 32)
        #expect(defaults.postgresBatchConcurrency == 2)
        #expect(defaults.postgresBatchSize == 64)
        let tuned = try ServerSettings(environment: [
            "OTPGATE_POSTGRES_POOL_SIZE": "8", "OTPGATE_POSTGRES_BATCH_CONCURRENCY": "3", "OTPGATE_POSTGRES_BATCH_SIZE": "16",
        ])
        #expect((tuned.postgresPoolSize, tuned.postgresBatchConcurrency, tuned.postgresBatchSize) == (8, 3, 16))
        for (name, value) in [
            ("OTPGATE_POSTGRES_POOL_SIZE", "0"), ("OTPGATE_POSTGRES_BATCH_CONCURRENCY", "0"),
            ("OTPGATE_POSTGRES_BATCH_CONCURRENCY", "257"), ("OTPGATE_POSTGRES_BATCH_SIZE", "0"), ("OTPGATE_POSTGRES_BATCH_SIZE", "1001"),
        ] {
            #expect(throws: ConfigurationError.self) { try ServerSettings(environment: [name: value]) }
        }
    }

    @Test func badSettingsAreRefusedWithoutEchoingSecrets() {
        let error = #expect(throws: ConfigurationError.self) { try MasterKey.parse("my-secret-master-key") }
        #expect(error.map { !"\($0)".contains("my-secret") } == true)
    }

    /// A value that is set but unusable stops the server at start-up with a message naming the variable; it never
    /// falls back to the default silently.
    @Test(arguments: [
        ("OTPGATE_RETENTION_DAYS", "-1"), ("OTPGATE_RETENTION_DAYS", "0"), ("OTPGATE_RETENTION_DAYS", "thirty"),
        ("OTPGATE_SQLITE_SYNCHRONOUS", "FUL"), ("OTPGATE_SQLITE_SYNCHRONOUS", "OFF"), ("OTPGATE_ENV", "staging"),
        ("OTPGATE_DELIVERY", "carrier-pigeon"), ("OTPGATE_LOG_LEVEL", "verbose"), ("OTPGATE_PORT", "70000"), ("OTPGATE_PORT", "80a"),
        ("OTPGATE_ALLOW_CONSOLE_IN_PRODUCTION", "maybe"), ("OTPGATE_ISSUER", " "), ("OTPGATE_POSTGRES_TIMEOUT_SECONDS", "0"),
        ("OTPGATE_POSTGRES_POOL_SIZE", "0"), ("OTPGATE_POSTGRES_BATCH_CONCURRENCY", "257"), ("OTPGATE_POSTGRES_BATCH_SIZE", "1001"),
        ("OTPGATE_POLICY_TTL_SECONDS", "3600"), ("OTPGATE_POLICY_TTL_SECONDS", "5m"), ("OTPGATE_POLICY_CODE_LENGTH", "3"),
        ("OTPGATE_POLICY_MAX_ATTEMPTS", "0"), ("OTPGATE_POLICY_MAX_SENDS", "11"), ("OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS", "-5"),
        ("OTPGATE_POLICY_STARTS_PER_DESTINATION", "0"), ("OTPGATE_POLICY_START_WINDOW_SECONDS", "0"),
        ("OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK", "101"), ("OTPGATE_POLICY_FAILURE_WINDOW_SECONDS", "0"),
        ("OTPGATE_POLICY_LOCK_SECONDS", "0"), ("OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND", "0"),
        ("OTPGATE_POLICY_TOKEN_TTL_SECONDS", "601"), ("OTPGATE_POLICY_TOKEN_TTL_SECONDS", "1e3"),
    ])
    func unusableSettingsAreRefusedNamingTheVariable(name: String, value: String) {
        let error = #expect(throws: ConfigurationError.self) { try ServerSettings(environment: [name: value]) }
        #expect(error.map { "\($0)".contains(name) } == true, "\(String(describing: error))")
    }

    /// A misspelt variable name is not silently lost: the settings name it, and `serve` warns about it.
    @Test func misspeltVariableNamesAreNamed() throws {
        let settings = try ServerSettings(environment: [
            "OTPGATE_RETENTON_DAYS": "7", "OTPGATE_POLICY_TTL_SECOND": "60", "OTPGATE_RETENTION_DAYS": "7", "HOME": "/root",
        ])
        #expect(settings.unrecognizedVariables == ["OTPGATE_POLICY_TTL_SECOND", "OTPGATE_RETENTON_DAYS"])
        #expect(try ServerSettings(environment: ["OTPGATE_MASTER_KEY": String(repeating: "ab", count: 32)]).unrecognizedVariables.isEmpty)
    }

    @Test func settingsAcceptTheirDocumentedForms() throws {
        let settings = try ServerSettings(environment: [
            "OTPGATE_RETENTION_DAYS": "7", "OTPGATE_SQLITE_SYNCHRONOUS": "normal", "OTPGATE_ALLOW_CONSOLE_IN_PRODUCTION": "true",
            "OTPGATE_PORT": "0", "OTPGATE_POSTGRES_TIMEOUT_SECONDS": "60", "OTPGATE_POLICY_TTL_SECONDS": "120",
        ])
        #expect(settings.retentionDays == 7)
        #expect(settings.sqliteSynchronous == "NORMAL")
        #expect(settings.allowConsoleInProduction)
        #expect(settings.port == 0)
        #expect(settings.postgresTimeout == .seconds(60))
        #expect(settings.policy.defaultTTLSeconds == 120)
        let defaults = try ServerSettings(environment: [:])
        #expect(defaults.retentionDays == 30)
        #expect(defaults.sqliteSynchronous == "FULL")
        #expect(defaults.postgresTimeout == .seconds(5))
    }
}
