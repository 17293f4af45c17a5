public import Configuration
import Foundation
import Yams

/// A YAML settings file (`otpgate serve --config FILE`): the same keys as the environment variables, nested or dotted
/// (`otpgate: {smtp: {url: …}}` or `otpgate.smtp.url: …`), read through swift-configuration's file provider.
/// Environment variables override it. A key that names no setting is reported at start-up like a misspelt variable.
public struct ConfigFile: Sendable {
    let provider: FileProvider<YAMLSnapshot>
    /// Every setting the file holds, as dotted keys.
    let keys: [String]
    let path: String

    public static func load(path: String) async throws -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError("--config: cannot read \(path)") }
        let keys: [String]
        do {
            guard let root = try Yams.Parser(yaml: String(decoding: data, as: UTF8.self)).singleRoot(), let mapping = root.mapping else {
                throw ConfigurationError("--config: \(path) must hold a YAML mapping (otpgate: {...})")
            }
            keys = Self.flatten(mapping, prefix: [])
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError("--config: \(path) is not valid YAML: \(error)")
        }
        let location = ConfigReader(provider: InMemoryProvider(values: ["filePath": ConfigValue(.string(path), isSecret: false)]))
        do {
            return ConfigFile(provider: try await FileProvider<YAMLSnapshot>(config: location), keys: keys, path: path)
        } catch {
            throw ConfigurationError("--config: \(path): \(error)")
        }
    }

    private static func flatten(_ mapping: Node.Mapping, prefix: [String]) -> [String] {
        mapping.flatMap { key, value -> [String] in
            let path = prefix + [key.string ?? ""]
            if let nested = value.mapping { return flatten(nested, prefix: path) }
            return [path.joined(separator: ".")]
        }
    }
}
