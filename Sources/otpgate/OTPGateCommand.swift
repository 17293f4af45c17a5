import ArgumentParser
import Foundation
import Logging
import OTPGateCore
import OTPGateDelivery
import OTPGateObservability
import OTPGateServer

@main
struct OTPGateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otpgate",
        abstract: "A self-hostable OTP verification server.",
        subcommands: [
            Serve.self, Migrate.self, TenantCommand.self, KeyCommand.self, MasterKeyCommand.self, SigningKeyCommand.self, CredentialsCommand.self,
            RecordsCommand.self, TemplateCommand.self, WebhookCommand.self, AbuseCommand.self, AuditCommand.self,
        ])
}

/// `--database`, shared by every command; falls back to `OTPGATE_DATABASE_URL`, then `sqlite:otpgate.sqlite`.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "sqlite:PATH or postgres://user:pass@host:port/db (env OTPGATE_DATABASE_URL)")
    var database: String?

    @Option(name: .long, help: "A YAML settings file (deploy/otpgate.example.yaml); environment variables override it")
    var config: String?

    func settings() async throws -> ServerSettings {
        var file: ConfigFile?
        if let config { file = try await ConfigFile.load(path: config) }
        var settings = try ServerSettings(environment: ProcessInfo.processInfo.environment, file: file)
        if let database { settings.database = try DatabaseURL(parsing: database) }
        return settings
    }
}

enum Bootstrap {
    static let logging: Void = {
        let level = ProcessInfo.processInfo.environment["OTPGATE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level) }
    }()

    /// Runs `body` with the migrated store of `settings` (its connection pool running meanwhile).
    static func withStore<T: Sendable>(_ settings: ServerSettings, _ body: @Sendable (any Store) async throws -> T) async throws -> T {
        _ = logging
        return try await StoreRunner.withRunning(try ServerRuntime.openStore(settings)) { store in
            try await store.migrate()
            return try await body(store)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server until SIGINT or SIGTERM.")

    @Option(help: "Address to bind (env OTPGATE_HOST, default 127.0.0.1)") var host: String?
    @Option(help: "Port to bind (env OTPGATE_PORT, default 8080)") var port: Int?
    @Option(help: "Port of the metrics listener (env OTPGATE_METRICS_PORT, default 9464; 0 = any free port)") var metricsPort: Int?
    @OptionGroup var db: DatabaseOption

    func run() async throws {
        var configured = try await db.settings()
        if let host { configured.host = host }
        if let port { configured.port = port }
        if let metricsPort {
            guard (0...65535).contains(metricsPort) else { throw ValidationError("--metrics-port must be 0 to 65535") }
            configured.metricsPort = metricsPort
        }
        _ = Bootstrap.logging
        let settings = configured
        let logger = Logger(label: "otpgate")
        if !settings.unrecognizedVariables.isEmpty {
            logger.warning(
                "ignoring environment variables that name no setting; check their spelling",
                metadata: ["variables": .string(settings.unrecognizedVariables.joined(separator: ","))])
        }
        try await Server.serve(settings: settings, dependencies: ServerDependencies(logger: logger)) { runtime in
            if let created = try await TenantAdmin(store: runtime.store, audit: settings.auditing ? .system() : nil).bootstrapDefaultTenant() {
                // Written unbuffered to stdout (like the console channel), so it shows at once even in a pipe.
                ConsoleSender.standardOutput("OTPGate created tenant \"default\" (\(created.tenant.id)) on this new database.")
                ConsoleSender.standardOutput("Its API key, shown once and stored only as a hash: \(created.apiKey)")
            }
            var metadata: Logger.Metadata = [:]
            if let security = runtime.databaseSecurity { metadata["database_tls"] = .string(security) }
            if let synchronous = try await runtime.sqliteSynchronous() { metadata["sqlite_synchronous"] = .string(synchronous) }
            logger.info(
                "starting",
                metadata: metadata.merging([
                    "database": .string(settings.database.description), "address": .string("\(settings.host):\(settings.port)"),
                    "delivery": .string(runtime.routes.summary),
                    "metrics": .string("\(settings.metricsHost):\(settings.metricsPort)"),
                ]) { $1 })
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    @OptionGroup var db: DatabaseOption

    func run() async throws {
        try await Bootstrap.withStore(try await db.settings()) { _ in }
        print("migrations applied")
    }
}
