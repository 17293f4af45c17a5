import Foundation
import OTPGateCore
import Yams

/// The OpenAPI 3.1 description of the native API. Written as `openapi.yaml` beside this file, embedded in the binary
/// at build time, served as is at `/openapi.yaml` and converted once to JSON for `/openapi.json`. The test command
/// validates the file with `openapi-spec-validator`; `OpenAPIContractTests` holds it to the routes and problems.
enum OpenAPIDocument {
    static let yaml: [UInt8] = PackageResources.openapi_yaml

    /// The same document as JSON; `nil` only if the embedded YAML does not parse (a build that no test passes).
    static let json: [UInt8]? = {
        guard let parsed = try? Yams.load(yaml: String(decoding: yaml, as: UTF8.self)), let value = jsonValue(parsed) else { return nil }
        return value.serialized
    }()

    private static func jsonValue(_ node: Any?) -> JSONValue? {
        switch node {
        case nil, is NSNull: return .null
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(i)
        case let d as Double: return .double(d)
        case let s as String: return .string(s)
        case let a as [Any]:
            return a.reduce(into: [JSONValue]?.some([])) { out, item in out = out.flatMap { o in jsonValue(item).map { o + [$0] } } }.map(
                JSONValue.array)
        case let m as [AnyHashable: Any]:
            var object: [String: JSONValue] = [:]
            for (key, value) in m {
                guard let key = key.base as? String ?? (key.base as? Int).map(String.init), let converted = jsonValue(value) else { return nil }
                object[key] = converted
            }
            return .object(object)
        case let m as [String: Any]: return jsonValue(Dictionary(uniqueKeysWithValues: m.map { (AnyHashable($0.key), $0.value) }))
        default: return nil
        }
    }
}
