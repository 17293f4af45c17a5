import Foundation
import Logging
import PostgresNIO

/// Creates the per-test schemas on the throwaway test cluster.
enum PostgresAdmin {
    static func createSchema(_ name: String, url: String) async throws {
        guard let components = URLComponents(string: url), let host = components.host else { throw TestFailure("bad test PostgreSQL URL") }
        let database = String(components.path.dropFirst())
        let configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
            database: database.isEmpty ? nil : database, tls: .disable)
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test-admin"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(name)"))
            group.cancelAll()
        }
    }
}
