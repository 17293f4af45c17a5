import Configuration
import Foundation

/// Reads one setting at a time and refuses a value it cannot use, naming the environment variable, instead of
/// falling back to the default: an operator who writes `OTPGATE_RETENTION_DAYS=-1` or `OTPGATE_SQLITE_SYNCHRONOUS=FUL`
/// learns it at start-up, not weeks later from a full disk or lost writes.
struct SettingReader {
    let reader: ConfigReader
    /// The variables asked for so far, so that those set but never read (a misspelt name) can be named.
    let asked = AskedVariables()

    final class AskedVariables {
        var names: Set<String> = []
    }

    /// `otpgate.policy.ttl.seconds` → `OTPGATE_POLICY_TTL_SECONDS`, the name the operator wrote.
    static func variable(_ key: String) -> String { key.uppercased().replacingOccurrences(of: ".", with: "_") }

    func string(_ key: String, isSecret: Bool = false) -> String? {
        asked.names.insert(Self.variable(key))
        return reader.string(forKey: ConfigKey(key), isSecret: isSecret)
    }

    func string(_ key: String, default defaultValue: String) throws -> String {
        guard let text = string(key) else { return defaultValue }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConfigurationError("\(Self.variable(key)) is set but empty")
        }
        return text
    }

    /// A whole number in `range`.
    func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = string(key) else { return defaultValue }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            let bounds =
                range == Int.min...Int.max
                ? "" : range.upperBound == Int.max ? " of at least \(range.lowerBound)" : " from \(range.lowerBound) to \(range.upperBound)"
            throw ConfigurationError("\(Self.variable(key)) must be a whole number\(bounds), not \"\(text.prefix(40))\"")
        }
        return value
    }

    /// One of a fixed set of words (compared without regard to case for `caseInsensitive`).
    func choice<T: RawRepresentable<String>>(_ key: String, default defaultValue: T, _ type: T.Type, caseInsensitive: Bool = false) throws -> T
    where T: CaseIterable {
        guard let text = string(key) else { return defaultValue }
        let word = text.trimmingCharacters(in: .whitespaces)
        if let value = T.allCases.first(where: { caseInsensitive ? $0.rawValue.lowercased() == word.lowercased() : $0.rawValue == word }) {
            return value
        }
        let names = T.allCases.map(\.rawValue)
        let list = names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
        throw ConfigurationError("\(Self.variable(key)) must be \(list), not \"\(text.prefix(40))\"")
    }

    func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let text = string(key) else { return defaultValue }
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError("\(Self.variable(key)) must be on or off (true or false), not \"\(text.prefix(40))\"")
        }
    }
}
