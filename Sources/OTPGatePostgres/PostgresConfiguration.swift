import Foundation
import PostgresNIO

/// A `postgres://user:password@host:port/database?sslmode=disable|prefer|require` URL as a client configuration.
struct PostgresURL: Sendable {
    let configuration: PostgresClient.Configuration

    init(_ url: String, poolSize: Int) throws {
        guard let components = URLComponents(string: url), components.scheme == "postgres" || components.scheme == "postgresql",
            let host = components.host, !host.isEmpty
        else { throw PostgresURLError("the PostgreSQL URL must look like postgres://user:password@host:5432/database") }
        let user = components.user ?? "postgres"
        let password = components.password
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw PostgresURLError("sslmode must be disable, prefer or require")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: password?.removingPercentEncoding ?? password, database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(5)
        // `?search_path=schema` puts every table of this deployment in its own schema (tests use one per case).
        if let schema = components.queryItems?.first(where: { $0.name == "search_path" })?.value {
            configuration.options.additionalStartupParameters.append(("search_path", schema))
        }
        self.configuration = configuration
    }
}

struct PostgresURLError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
