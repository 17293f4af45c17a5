import Foundation
import PostgresNIO

/// How a connection to PostgreSQL is protected, from the URL's `sslmode` (and `sslrootcert`). Without `sslmode`, a
/// loopback host gets `prefer` and any other host `verify-full`: across a network the default is TLS with the
/// certificate and host name verified, and anything weaker must be asked for.
public enum PostgresTransportSecurity: Sendable, Equatable, CustomStringConvertible {
    /// `sslmode=disable`: plain TCP.
    case disabled
    /// `sslmode=prefer` or `allow`: TLS (verified) when the server offers it, plain TCP otherwise.
    case preferred
    /// `sslmode=verify-ca`: TLS required, the certificate chain verified, the host name not checked.
    case verifiedCertificate
    /// `sslmode=verify-full` or `require`: TLS required, the certificate and the host name verified.
    case verifiedFull

    public var description: String {
        switch self {
        case .disabled: "no TLS (sslmode=disable)"
        case .preferred: "TLS if the server offers it, else plain TCP (sslmode=prefer)"
        case .verifiedCertificate: "TLS, certificate verified, host name not checked (sslmode=verify-ca)"
        case .verifiedFull: "TLS, certificate and host name verified (sslmode=verify-full)"
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return bare == "localhost" || bare == "::1" || bare.hasPrefix("127.") || bare.hasPrefix("/")
    }
}

/// A `postgres://user:password@host:port/database?sslmode=…&sslrootcert=…&search_path=…` URL as a client configuration.
struct PostgresURL: Sendable {
    let configuration: PostgresClient.Configuration
    let security: PostgresTransportSecurity

    init(_ url: String, poolSize: Int) throws {
        guard let components = URLComponents(string: url), components.scheme == "postgres" || components.scheme == "postgresql",
            let host = components.host, !host.isEmpty
        else { throw PostgresURLError("the PostgreSQL URL must look like postgres://user:password@host:5432/database") }
        let user = components.user ?? "postgres"
        let password = components.password
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        func query(_ name: String) -> String? { components.queryItems?.first(where: { $0.name == name })?.value }

        switch query("sslmode") {
        case nil: security = PostgresTransportSecurity.isLoopback(host) ? .preferred : .verifiedFull
        case "disable": security = .disabled
        case "prefer", "allow": security = .preferred
        case "verify-ca": security = .verifiedCertificate
        case "require", "verify-full": security = .verifiedFull
        default: throw PostgresURLError("sslmode must be disable, allow, prefer, require, verify-ca or verify-full")
        }
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if security == .verifiedCertificate { tlsConfiguration.certificateVerification = .noHostnameVerification }
        if let rootCertificate = query("sslrootcert") {
            guard FileManager.default.isReadableFile(atPath: rootCertificate) else {
                throw PostgresURLError("sslrootcert: cannot read the CA certificate file")
            }
            tlsConfiguration.trustRoots = .file(rootCertificate)
        }
        let tls: PostgresClient.Configuration.TLS
        switch security {
        case .disabled: tls = .disable
        case .preferred: tls = .prefer(tlsConfiguration)
        case .verifiedCertificate, .verifiedFull: tls = .require(tlsConfiguration)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: password?.removingPercentEncoding ?? password, database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(5)
        // Every transaction reads each statement's own snapshot: the destination locks are taken in one statement and
        // the state they guard read in the next (`lockDestinations`), which sees what the previous holder committed
        // only under READ COMMITTED. Sent at connect, it wins over a database's or role's other default.
        configuration.options.additionalStartupParameters.append(("default_transaction_isolation", "read committed"))
        // `?search_path=schema` puts every table of this deployment in its own schema (tests use one per case).
        if let schema = query("search_path") {
            configuration.options.additionalStartupParameters.append(("search_path", schema))
        }
        self.configuration = configuration
    }
}

struct PostgresURLError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
