import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OTPGateCore
import OTPGateSQLite
import ServiceLifecycle
import Synchronization
import Testing

@testable import OTPGateDelivery
@testable import OTPGateNativeAPI
@testable import OTPGateObservability
@testable import OTPGateServer

/// A clock the test moves by hand.
final class TestClock: OTPGateCore.Clock, Sendable {
    private let current: Mutex<Timestamp>
    init(_ start: Timestamp = Timestamp(seconds: 1_800_000_000)) { current = Mutex(start) }
    func now() -> Timestamp { current.withLock { $0 } }
    func advance(_ duration: Duration) { current.withLock { $0 = $0 + duration } }
}

/// Deterministic randomness (SplitMix64), so a failing test fails the same way every run.
typealias SeededRandom = SeededRandomSource

/// Records what the outbox worker hands over: the test's view of the SMS or email a person would get.
final class RecordingSender: MessageSender, Sendable {
    let name = "recording"
    private let sent = Mutex<[OutgoingMessage]>([])
    private let failures = Mutex<[DeliveryError]>([])

    var messages: [OutgoingMessage] { sent.withLock { $0 } }

    /// Makes the next sends fail with these errors, in order.
    func failNext(_ errors: [DeliveryError]) { failures.withLock { $0 += errors } }

    /// Every hand-over, failed or not.
    var attempts: Int { attemptCount.withLock { $0 } }
    private let attemptCount = Mutex(0)

    func send(_ message: OutgoingMessage) async throws -> SendReceipt {
        attemptCount.withLock { $0 += 1 }
        if let failure = failures.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { throw failure }
        sent.withLock { $0.append(message) }
        return SendReceipt(providerMessageID: "rec-\(message.messageID)")
    }

    /// The code in the last message to a verification.
    func code(for verificationID: String) -> String? {
        messages.last { $0.verificationID == verificationID }.flatMap { $0.text.split(separator: " ").first.map(String.init) }
    }
}

let testMasterKey = String(repeating: "ab", count: 32)

/// The stores the conformance tests run on: SQLite and PostgreSQL (`OTPGATE_TEST_POSTGRES_URL`, set by
/// `scripts/test.sh`). Without that URL the PostgreSQL cases fail, naming what is missing, rather than the suite
/// quietly passing on SQLite alone; `OTPGATE_TEST_SQLITE_ONLY=1` opts out explicitly (a quick local run).
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    static var available: [Backend] { sqliteOnly ? [.sqlite] : [.sqlite, .postgres] }
    static var postgresURL: String? { ProcessInfo.processInfo.environment["OTPGATE_TEST_POSTGRES_URL"] }
    static var sqliteOnly: Bool { ProcessInfo.processInfo.environment["OTPGATE_TEST_SQLITE_ONLY"] == "1" }
    /// Whether the suites that need PostgreSQL itself (several processes, an outage) run.
    static var postgresEnabled: Bool { !sqliteOnly }
    var testDescription: String { rawValue }

    /// A database URL with nothing in it: a new file, or a new schema on the test cluster.
    func freshDatabaseURL(in directory: URL) async throws -> String {
        switch self {
        case .sqlite:
            return "sqlite:\(directory.path)/otpgate.sqlite"
        case .postgres:
            let base = try #require(
                Self.postgresURL, "PostgreSQL tests need OTPGATE_TEST_POSTGRES_URL: run them with scripts/test.sh (or set OTPGATE_TEST_SQLITE_ONLY=1)"
            )
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            try await PostgresAdmin.createSchema(schema, url: base)
            return base + (base.contains("?") ? "&" : "?") + "search_path=\(schema)"
        }
    }
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("otpgate-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// One OTPGate on a fresh SQLite file, with a test clock, seeded randomness and a recording sender, and one tenant.
struct Harness {
    let directory: URL
    let clock: TestClock
    let sender: RecordingSender
    let runtime: ServerRuntime
    let tenant: Tenant
    let apiKey: String

    var store: any Store { runtime.store }
    var engine: VerificationEngine { runtime.engine }

    /// What the store remembers about one of a tenant's phone numbers (looked up by its blind index).
    func destinationState(_ phone: String, tenantID: String? = nil) async throws -> DestinationState? {
        let tenant = tenantID ?? self.tenant.id
        return try await store.destinationState(
            tenantID: tenant, destinationKey: engine.destinationKey(Destination(unchecked: phone, channel: .sms), tenantID: tenant))
    }
    var principal: Principal { Principal(tenant: tenant, keyID: "") }

    /// - Parameter localDelivery: whether the engine hands new messages to this runtime's worker (as `serve` does)
    ///   instead of leaving them to polling; the worker itself is only run by `deliver()`.
    static func make(
        backend: Backend = .sqlite, environment: [String: String] = [:], seed: UInt64 = 42, localDelivery: Bool = false,
        realDelivery: Bool = false
    ) async throws -> Harness {
        let directory = try temporaryDirectory()
        // A generous PostgreSQL deadline: on a loaded CI machine a slow answer must not turn into a 503 that breaks
        // an exact count (the deadline itself is shown by OutageTests, on the default). The pool holds what two
        // start and two check batches need at once: each keeps a transaction open while its per-key count runs on a
        // second connection.
        var env = [
            "OTPGATE_DATABASE_URL": try await backend.freshDatabaseURL(in: directory), "OTPGATE_MASTER_KEY": testMasterKey,
            "OTPGATE_POSTGRES_POOL_SIZE": "10", "OTPGATE_POSTGRES_TIMEOUT_SECONDS": "120",
        ]
        env.merge(environment) { $1 }
        let settings = try ServerSettings(environment: env)
        let store = try ServerRuntime.openStore(settings)
        // `serve` runs a PostgreSQL store's pool in its ServiceGroup; a test's pool runs until the test process ends.
        if let pool = store as? any Service { Task { try? await pool.run() } }
        try await store.migrate()
        let clock = TestClock()
        let random = SeededRandom(seed: seed)
        let sender = RecordingSender()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let runtime = try await ServerRuntime.make(
            settings: settings, store: store,
            dependencies: ServerDependencies(
                clock: clock, random: random, sender: realDelivery ? nil : sender, logger: logger, runBackgroundServices: localDelivery))
        let created = try await TenantAdmin(store: store, clock: clock, random: random).createTenant(name: "acme")
        return Harness(directory: directory, clock: clock, sender: sender, runtime: runtime, tenant: created.tenant, apiKey: created.apiKey)
    }

    /// Another tenant on the same deployment.
    func makeTenant(_ name: String) async throws -> (tenant: Tenant, apiKey: String) {
        let created = try await TenantAdmin(store: store, clock: clock, random: SeededRandom(seed: UInt64(name.hashValue.magnitude))).createTenant(
            name: name)
        return (created.tenant, created.apiKey)
    }

    /// `GET /metrics` on this runtime's metrics listener (its router, as `serve` binds it to OTPGATE_METRICS_PORT).
    func scrapeMetrics() async throws -> String {
        let app = Application(
            router: MetricsListener.router(metrics: runtime.metrics), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
                return String(buffer: response.body)
            }
        }
    }

    /// The Prometheus exposition of this runtime's metrics.
    var metricsText: String { String(decoding: runtime.metrics.exposition(), as: UTF8.self) }

    /// Delivers everything due in the outbox, as the background worker would.
    func deliver() async { while await runtime.outboxWorker.drainOnce() > 0 {} }

    /// The principal as the API sees it (with its real key id).
    func principal(for key: String) async throws -> Principal {
        try #require(try await store.principal(forKeyHash: APIKey.hash(key)))
    }

    /// - Parameter logs: records every log line the application writes (at `info` and above) when given.
    /// - Parameter mode: `.router` (no sockets) by default; `.live` when the peer address matters.
    func test(logs: LogRecorder? = nil, mode: TestingSetup = .router, _ body: @Sendable (TestClient) async throws -> Void) async throws {
        try await Self.test(runtime: runtime, apiKey: apiKey, logs: logs, mode: mode, body)
    }

    /// The same, against another runtime (a second instance on the same store).
    static func test(
        runtime: ServerRuntime, apiKey: String, logs: LogRecorder? = nil, mode: TestingSetup = .router,
        _ body: @Sendable (TestClient) async throws -> Void
    ) async throws {
        let router = runtime.buildRouter()
        var logger = logs.map { recorder in Logger(label: "test") { _ in RecordingLogHandler(recorder: recorder) } } ?? Logger(label: "test")
        logger.logLevel = logs == nil ? .warning : .info
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        try await app.test(mode) { client in try await body(TestClient(client: client, apiKey: apiKey)) }
    }
}

/// A decoded API response.
struct APIResponse {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let json: JSONValue?

    subscript(_ key: String) -> JSONValue? {
        guard case .object(let object)? = json else { return nil }
        return object[key]
    }

    func string(_ key: String) -> String? {
        if case .string(let s)? = self[key] { return s }
        return nil
    }

    func int(_ key: String) -> Int? {
        if case .number(let n)? = self[key] { return Int(n) }
        return nil
    }

    var problemCode: String? { string("code") }
}

struct TestClient {
    let client: any TestClientProtocol
    let apiKey: String

    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, json: String? = nil, key: String?? = .none, headers: HTTPFields = [:]) async throws
        -> APIResponse
    {
        var fields = headers
        let bearer = key ?? apiKey
        if let bearer { fields[.authorization] = "Bearer \(bearer)" }
        if json != nil { fields[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: fields, body: json.map { ByteBuffer(string: $0) }) { response in
            let bytes = Data(response.body.readableBytesView)
            return APIResponse(status: response.status, headers: response.headers, json: try? JSONDecoder().decode(JSONValue.self, from: bytes))
        }
    }

    func post(_ path: String, _ json: String? = nil, key: String?? = .none, headers: HTTPFields = [:]) async throws -> APIResponse {
        try await call(.post, path, json: json, key: key, headers: headers)
    }

    func get(_ path: String, key: String?? = .none, headers: HTTPFields = [:]) async throws -> APIResponse {
        try await call(.get, path, key: key, headers: headers)
    }

    /// Checks a code and returns the answer.
    func check(_ id: String, _ code: String, key: String?? = .none) async throws -> APIResponse {
        try await post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#, key: key)
    }

    /// Starts an SMS verification and returns its id.
    func start(to: String = "+919876543210", extra: String = "", key: String?? = .none) async throws -> String {
        let response = try await post("/v1/verifications", #"{"to":"\#(to)","channel":"sms"\#(extra)}"#, key: key)
        #expect(response.status == .created, "start answered \(response.status): \(String(describing: response.json))")
        return try #require(response.string("id"))
    }
}

/// A code that is certainly not `code`, of the same length.
func wrongCode(for code: String) -> String {
    String(code.map { $0 == "0" ? "1" : "0" })
}

/// Polls `condition` until it holds, failing clearly at `timeout`: for what another process or task does in its own
/// time, instead of a fixed sleep that a loaded machine can outrun.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(60), every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    throw TestFailure("timed out after \(timeout) waiting for: \(what)")
}

/// Every log line a test's application wrote: its message and metadata, rendered as text.
final class LogRecorder: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])
    var all: [Line] { lines.withLock { $0 } }
    func append(_ line: Line) { lines.withLock { $0.append(line) } }
}

struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        recorder.append(.init(level: event.level, message: event.message.description, metadata: merged.mapValues { $0.description }))
    }
}

/// Tests that are not about the audit log change settings without an entry.
extension TenantStore {
    func updateTenantPolicy(id: String, overrides: PolicyOverrides) async throws -> Bool {
        try await updateTenantPolicy(id: id, overrides: overrides, audit: nil)
    }
    func createAPIKey(_ key: APIKeyRecord) async throws { try await createAPIKey(key, audit: nil) }
    func revokeAPIKey(id: String, at: Timestamp) async throws -> Bool { try await revokeAPIKey(id: id, at: at, audit: nil) }
}

extension WebhookStore {
    func saveWebhookEndpoint(_ endpoint: WebhookEndpoint, replacingSecret: Bool) async throws -> WebhookEndpoint {
        try await saveWebhookEndpoint(endpoint, replacingSecret: replacingSecret, audit: nil)
    }
}

extension TenantDeliveryStore {
    func saveTenantDelivery(tenantID: String, sealedSettings: [UInt8], now: Timestamp) async throws {
        try await saveTenantDelivery(tenantID: tenantID, sealedSettings: sealedSettings, now: now, audit: nil)
    }
}
