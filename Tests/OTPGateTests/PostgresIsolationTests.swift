import Foundation
import Logging
import PostgresNIO
import Testing

@testable import OTPGatePostgres

/// The store's transactions run at READ COMMITTED whatever the database or role says: its destination locks are
/// taken in one statement and the state they guard is read in the next, which only then sees what the lock's
/// previous holder committed.
@Suite(.timeLimit(.minutes(2)), .enabled(if: Backend.postgresEnabled, "OTPGATE_TEST_SQLITE_ONLY=1"))
struct PostgresIsolationTests {
    @Test func transactionsReadCommittedEvenWhenTheRoleDefaultsToRepeatableRead() async throws {
        let url = try #require(Backend.postgresURL)
        let role = "otpgate_rr_\(UInt32.random(in: 0...UInt32.max))"
        try await Self.admin(url) { client in
            _ = try await client.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN"))
            _ = try await client.query(PostgresQuery(unsafeSQL: "ALTER ROLE \(role) SET default_transaction_isolation = 'repeatable read'"))
        }

        var components = try #require(URLComponents(string: url))
        components.user = role
        components.password = nil
        let configuration = try PostgresURL(try #require(components.string), poolSize: 1)
        let client = PostgresClient(configuration: configuration.configuration, backgroundLogger: Logger(label: "test-isolation"))
        let isolation = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await client.withTransaction(logger: Logger(label: "test-isolation")) { connection in
                var value = ""
                for try await row in try await connection.query("SHOW transaction_isolation", logger: Logger(label: "test-isolation")) {
                    value = try row.decode(String.self)
                }
                return value
            }
        }
        try await Self.admin(url) { client in _ = try await client.query(PostgresQuery(unsafeSQL: "DROP ROLE \(role)")) }
        #expect(isolation == "read committed")
    }

    /// Runs `body` with a client of the test cluster's own (superuser) role.
    static func admin(_ url: String, _ body: @escaping @Sendable (PostgresClient) async throws -> Void) async throws {
        let configuration = try PostgresURL(url, poolSize: 1)
        let client = PostgresClient(configuration: configuration.configuration, backgroundLogger: Logger(label: "test-admin"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(client)
        }
    }
}
