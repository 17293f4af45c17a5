import Hummingbird
import Logging
import OTPGateCore
import ServiceLifecycle
import UnixSignals

/// `otpgate serve`: one `ServiceGroup` that runs the store's connection pool (for PostgreSQL) first and the server
/// after it — migrations, secrets, the HTTP application with the outbox worker and the sweeper. On SIGINT or
/// SIGTERM the server stops taking requests and finishes what it holds, then the pool closes.
public enum Server {
    /// Serves until SIGINT or SIGTERM.
    /// - Parameter started: called once the store is migrated and the runtime wired, before the port opens
    ///   (the command line prints the bootstrap tenant's key there).
    public static func serve(
        settings: ServerSettings, dependencies: ServerDependencies, started: @escaping @Sendable (ServerRuntime) async throws -> Void = { _ in }
    ) async throws {
        let store = try ServerRuntime.openStore(settings)
        var services: [any Service] = []
        if let pool = store as? any Service { services.append(pool) }
        services.append(Launcher(settings: settings, store: store, dependencies: dependencies, started: started))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: dependencies.logger))
        do {
            try await group.run()
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    /// Migrates, wires and runs the application once the store's pool runs (services start in order).
    private struct Launcher: Service {
        let settings: ServerSettings
        let store: any Store
        let dependencies: ServerDependencies
        let started: @Sendable (ServerRuntime) async throws -> Void

        func run() async throws {
            try await store.migrate()
            let runtime = try await ServerRuntime.make(settings: settings, store: store, dependencies: dependencies)
            try await started(runtime)
            try await runtime.buildApplication().run()
        }
    }
}
