import Foundation
package import Hummingbird
import NIOCore
package import OTPGateCore

/// A request body parsed as a JSON object, with typed accessors that fail with a problem naming the field.
/// Unknown fields are refused, so a misspelt option never silently falls back to a default. Text that is not JSON is
/// 400 `malformed_json`; JSON with a key repeated in one object (at any depth) is 400 `invalid_json`, naming the key.
package struct JSONBody {
    let fields: [String: JSONValue]
    let raw: [UInt8]

    /// Reads and parses the body; an empty body counts as `{}` so endpoints without required fields accept it.
    package static func read(_ request: Request, context: AppRequestContext, allowed: Set<String>) async throws -> JSONBody {
        let raw = try await context.collectBody(request)
        if raw.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return JSONBody(fields: [:], raw: raw) }
        let value: JSONValue
        do {
            value = try JSONParser.parse(raw)
        } catch {
            if let key = error.duplicateKey {
                throw Problem.invalidJSON("the key \"\(key.prefix(64))\" appears more than once in one object (at byte \(error.offset))")
            }
            throw Problem.malformedJSON("the request body is not valid JSON (at byte \(error.offset))")
        }
        guard case .object(let fields) = value else { throw Problem.malformedJSON("the request body must be a JSON object") }
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw Problem(
                ProblemCatalog.unknownField,
                detail: "\(unknown.prefix(64)) is not a field of this request", field: String(unknown.prefix(64)))
        }
        return JSONBody(fields: fields, raw: raw)
    }

    package func string(_ name: String, maxLength: Int = 256) throws -> String? {
        switch fields[name] {
        case nil, .null?: return nil
        case .string(let s)?:
            guard s.count <= maxLength else { throw Problem.invalidField(name, "must be at most \(maxLength) characters") }
            return s
        case let other?: throw Problem.invalidField(name, "must be a string, not \(other.typeName)")
        }
    }

    package func requiredString(_ name: String, maxLength: Int = 256) throws -> String {
        guard let value = try string(name, maxLength: maxLength) else { throw Problem.invalidField(name, "is required") }
        return value
    }

    func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        switch fields[name] {
        case nil, .null?: return nil
        case .number(let n)?:
            // Exact, on the number's text: 6, 6.0 and 6e0 are six; 6.5, 1e400 and 2^64 are refused, never rounded.
            guard let value = n.intValue, range.contains(value) else {
                throw Problem.invalidField(name, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        case let other?: throw Problem.invalidField(name, "must be an integer, not \(other.typeName)")
        }
    }

    func bool(_ name: String) throws -> Bool? {
        switch fields[name] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let other?: throw Problem.invalidField(name, "must be a boolean, not \(other.typeName)")
        }
    }

    func channel(_ name: String) throws -> OTPGateCore.Channel? {
        guard let text = try string(name, maxLength: 32) else { return nil }
        guard let channel = OTPGateCore.Channel(rawValue: text) else {
            throw Problem.invalidField(name, "must be one of \(OTPGateCore.Channel.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return channel
    }

    /// An array of strings (`events`), at most `maxCount`.
    func strings(_ name: String, maxCount: Int) throws -> [String]? {
        switch fields[name] {
        case nil, .null?: return nil
        case .array(let items)?:
            guard items.count <= maxCount else { throw Problem.invalidField(name, "takes at most \(maxCount) values") }
            return try items.map { item in
                guard case .string(let text) = item, text.count <= 64 else { throw Problem.invalidField(name, "must be an array of strings") }
                return text
            }
        case let other?: throw Problem.invalidField(name, "must be an array, not \(other.typeName)")
        }
    }

    /// An array of distinct channel names (`fallback`).
    func channels(_ name: String, maxCount: Int) throws -> [OTPGateCore.Channel]? {
        switch fields[name] {
        case nil, .null?: return nil
        case .array(let items)?:
            let names = OTPGateCore.Channel.allCases.map(\.rawValue).joined(separator: ", ")
            var out: [OTPGateCore.Channel] = []
            for item in items {
                guard case .string(let text) = item, let channel = OTPGateCore.Channel(rawValue: text), !out.contains(channel) else {
                    throw Problem.invalidField(name, "must be an array of distinct channels (\(names))")
                }
                out.append(channel)
            }
            guard out.count <= maxCount else { throw Problem.invalidField(name, "takes at most \(maxCount) channel") }
            return out
        case let other?: throw Problem.invalidField(name, "must be an array, not \(other.typeName)")
        }
    }

    /// A short label (`purpose`): letters, digits and `_ . : -`, because it is rendered into the message text.
    func label(_ name: String) throws -> String? {
        guard let text = try string(name, maxLength: 64) else { return nil }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.:-".contains($0)) }) else {
            throw Problem.invalidField(name, "must be 1 to 64 characters of letters, digits, '_', '.', ':' or '-'")
        }
        return text
    }

    func locale(_ name: String) throws -> String? {
        guard let text = try string(name, maxLength: 35) else { return nil }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLetter }),
            parts.dropFirst().allSatisfy({ (1...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } })
        else { throw Problem.invalidField(name, "must be a BCP 47 language tag such as en or hi-IN") }
        return text
    }

    /// Printable text without control characters (`reference`).
    func printable(_ name: String, maxLength: Int) throws -> String? {
        guard let text = try string(name, maxLength: maxLength) else { return nil }
        guard text.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
            throw Problem.invalidField(name, "must not contain control characters")
        }
        return text
    }

    func object(_ name: String, maxBytes: Int) throws -> JSONValue? {
        switch fields[name] {
        case nil, .null?: return nil
        case .object(let o)?:
            let value = JSONValue.object(o)
            guard value.serialized.count <= maxBytes else { throw Problem.invalidField(name, "must be at most \(maxBytes) bytes of JSON") }
            return value
        case let other?: throw Problem.invalidField(name, "must be an object, not \(other.typeName)")
        }
    }
}
