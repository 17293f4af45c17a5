import Foundation
import GRDB
import HTTPTypes
import Logging
import OTPGateCore
import PostgresNIO
import Synchronization
import Testing

@testable import OTPGateServer

/// A database written before encryption at rest: its clear verifications, destination records and idempotency
/// snapshots are sealed at the next start, and everything about them still works.
@Suite struct PersonalDataUpgradeTests {
    static let phone = "+919812345678"
    static let reference = "loan-legacy-1"
    static let contextValue = "LEGAC1234Y"

    /// Runs raw SQL on the harness's database (its SQLite file, or its PostgreSQL schema).
    func execute(_ h: Harness, _ statements: [String]) async throws {
        switch h.runtime.settings.database {
        case .sqlite(let path):
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in for sql in statements { try db.execute(sql: sql) } }
        case .postgres(let url):
            let components = try #require(URLComponents(string: url))
            var configuration = PostgresClient.Configuration(
                host: components.host ?? "127.0.0.1", port: components.port ?? 5432, username: components.user ?? "otpgate", password: nil,
                database: String(components.path.dropFirst()), tls: .disable)
            if let schema = components.queryItems?.first(where: { $0.name == "search_path" })?.value {
                configuration.options.additionalStartupParameters.append(("search_path", schema))
            }
            let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test-legacy"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                for sql in statements { try await client.query(PostgresQuery(unsafeSQL: sql)) }
                group.cancelAll()
            }
        }
    }

    @Test(arguments: Backend.available) func clearRowsAreSealedAtStartAndStillWork(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let started = Mutex<[String]>([])
        try await h.test { client in
            let plain = try await client.start(to: Self.phone)
            let keyed = try await client.post(
                "/v1/verifications", #"{"to":"\#(Self.phone)","channel":"sms","reference":"\#(Self.reference)"}"#,
                headers: [HTTPField.Name("Idempotency-Key")!: "legacy-key"])
            let keyedID = try #require(keyed.string("id"))
            started.withLock { $0 = [plain, keyedID] }
        }
        let ids = started.withLock { $0 }
        // Turn them into what the previous version wrote: clear columns, no sealed fields, a clear-keyed lock record
        // and a clear snapshot.
        let legacySnapshot =
            #"{"id":"\#(ids[1])","tenantID":"\#(h.tenant.id)","channel":"sms","destination":"\#(Self.phone)","reference":"\#(Self.reference)","codeLength":6,"codeHash":"","state":"pending","attempts":0,"maxAttempts":5,"sends":1,"maxSends":5,"ttlSeconds":300,"createdAt":1800000000000,"expiresAt":1800000300000,"lastSentAt":1800000000000,"resendAvailableAt":1800000030000,"updatedAt":1800000000000}"#
        try await execute(
            h,
            [
                """
                UPDATE verifications SET destination = '\(Self.phone)', reference = '\(Self.reference)',
                    context = '{"pan":"\(Self.contextValue)"}', sealed_fields = NULL
                """,
                "DELETE FROM destinations",
                """
                INSERT INTO destinations (tenant_id, destination, failed_checks, first_failure_at, locked_until)
                VALUES ('\(h.tenant.id)', '\(Self.phone)', 2, 1800000000000, NULL)
                """,
                "UPDATE idempotency_keys SET response = '\(legacySnapshot.replacingOccurrences(of: "'", with: "''"))'",
            ])
        #expect(try await h.store.verificationsInClear(limit: 10).count == 2)

        // The next start seals everything (a second runtime on the same database, as a restart would be).
        let restarted = try await ServerRuntime.make(
            settings: h.runtime.settings, store: h.store,
            dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 8), sender: h.sender))
        #expect(try await h.store.verificationsInClear(limit: 10).isEmpty)
        #expect(try await h.store.destinationsInClear(limit: 10).isEmpty)
        #expect(try await h.store.idempotencyRecordsInClear(limit: 10).isEmpty)
        #expect(try await PersonalDataUpgrade.run(store: h.store, cipher: restarted.engine.cipher) == 0)

        // Nothing is lost: the fields open, the lock record moved under the blind index, the snapshot replays.
        let read = try await restarted.engine.verification(id: ids[0], principal: h.principal)
        #expect(read.destination == Self.phone)
        #expect(read.reference == Self.reference)
        #expect(read.context == #"{"pan":"\#(Self.contextValue)"}"#)
        #expect(try await h.destinationState(Self.phone)?.failedChecks == 2)
        try await Harness.test(runtime: restarted, apiKey: h.apiKey) { client in
            let replay = try await client.post(
                "/v1/verifications", #"{"to":"\#(Self.phone)","channel":"sms","reference":"\#(Self.reference)"}"#,
                headers: [HTTPField.Name("Idempotency-Key")!: "legacy-key"])
            #expect(replay.string("id") == ids[1])
            #expect(replay.string("reference") == Self.reference)
        }
        // And the clear values are gone from the rows.
        if case .sqlite(let path) = h.runtime.settings.database {
            let queue = try DatabaseQueue(path: path)
            let clear = try await queue.read { db in
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT (SELECT count(*) FROM verifications WHERE destination = ?1 OR reference IS NOT NULL OR context IS NOT NULL)
                            + (SELECT count(*) FROM destinations WHERE destination = ?1)
                            + (SELECT count(*) FROM idempotency_keys WHERE instr(response, ?2) > 0 OR instr(response, ?1) > 0)
                        """, arguments: [Self.phone, Self.reference])
            }
            #expect(clear == 0)
        }
    }
}
