import Foundation

/// Where the store lives: `sqlite:PATH` (embedded default) or `postgres://user:pass@host:port/db`.
public enum DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    public static let defaultValue = DatabaseURL.sqlite(path: "otpgate.sqlite")

    public init(parsing raw: String) throws {
        if raw.hasPrefix("sqlite://") {
            let path = String(raw.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw ConfigurationError("database URL 'sqlite://' needs a path") }
            self = .sqlite(path: path)
        } else if raw.hasPrefix("sqlite:") {
            let path = String(raw.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw ConfigurationError("database URL 'sqlite:' needs a path, e.g. sqlite:otpgate.sqlite") }
            self = .sqlite(path: path)
        } else if raw.hasPrefix("postgres://") || raw.hasPrefix("postgresql://") {
            self = .postgres(url: raw)
        } else {
            throw ConfigurationError("database URL must start with sqlite: or postgres:// (got a value of \(raw.count) characters)")
        }
    }

    /// A form safe to log: the password of a PostgreSQL URL is replaced.
    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let url):
            guard let at = url.lastIndex(of: "@"), let schemeEnd = url.range(of: "://") else { return url }
            let credentials = url[schemeEnd.upperBound..<at]
            guard let colon = credentials.firstIndex(of: ":") else { return url }
            return String(url[..<colon]) + ":***" + String(url[at...])
        }
    }
}

/// A configuration value that cannot be used; the message names the setting, never a secret's value.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
