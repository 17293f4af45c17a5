import Foundation
import OTPGateCore
import Testing

@testable import OTPGatePostgres
@testable import OTPGateServer

/// The PostgreSQL connection's protection: across a network the default is TLS with the certificate and host name
/// verified; anything weaker is only what the URL asks for.
@Suite struct PostgresTLSTests {
    func security(_ url: String) throws -> PostgresTransportSecurity { try PostgresURL(url, poolSize: 1).security }

    @Test func aNonLoopbackHostDefaultsToVerifiedTLS() throws {
        #expect(try security("postgres://u:p@db.internal:5432/otpgate") == .verifiedFull)
        #expect(try security("postgres://u:p@10.1.2.3/otpgate") == .verifiedFull)
        #expect(try security("postgres://u:p@[2001:db8::1]:5432/otpgate") == .verifiedFull)
        // Loopback: nothing crosses a network.
        #expect(try security("postgres://u:p@127.0.0.1:5432/otpgate") == .preferred)
        #expect(try security("postgres://u:p@localhost/otpgate") == .preferred)
        #expect(try security("postgres://u:p@[::1]/otpgate") == .preferred)
        // Weaker only when asked for.
        #expect(try security("postgres://u:p@db.internal/otpgate?sslmode=disable") == .disabled)
        #expect(try security("postgres://u:p@db.internal/otpgate?sslmode=prefer") == .preferred)
        #expect(try security("postgres://u:p@db.internal/otpgate?sslmode=verify-ca") == .verifiedCertificate)
        #expect(try security("postgres://u:p@db.internal/otpgate?sslmode=require") == .verifiedFull)
        #expect(throws: (any Error).self) { try security("postgres://u:p@db.internal/otpgate?sslmode=sometimes") }
        #expect(throws: (any Error).self) { try security("postgres://u:p@db.internal/otpgate?sslrootcert=/nonexistent/ca.pem") }
        #expect(PostgresTransportSecurity.verifiedFull.description.contains("certificate and host name verified"))
    }

    /// The test cluster speaks no TLS: a URL that requires it is refused at the first query rather than silently
    /// falling back to plain TCP, while `prefer` connects.
    @Test(.enabled(if: Backend.available.contains(.postgres))) func requiredTLSNeverFallsBackToPlainText() async throws {
        let base = try #require(Backend.postgresURL).replacingOccurrences(of: "sslmode=disable", with: "")
        let joiner = base.contains("?") ? "&" : "?"
        // A generous deadline for the connection that must succeed: the suite runs beside others on two cores.
        let prefer = try ServerRuntime.openStore(
            try ServerSettings(environment: ["OTPGATE_DATABASE_URL": base + joiner + "sslmode=prefer", "OTPGATE_POSTGRES_TIMEOUT_SECONDS": "60"]))
        let required = try ServerRuntime.openStore(
            try ServerSettings(environment: ["OTPGATE_DATABASE_URL": base + joiner + "sslmode=verify-full", "OTPGATE_POSTGRES_TIMEOUT_SECONDS": "3"]))
        for store in [prefer, required] { if let pool = store as? PostgresStore { Task { try? await pool.run() } } }
        try await prefer.ping()
        await #expect(throws: (any Error).self) { try await required.ping() }
    }
}
