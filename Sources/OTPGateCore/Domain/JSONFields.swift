/// Why a well-formed JSON value is not the object a codec expects: which member, and what is wrong with it.
public struct JSONShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The member at fault; `nil` when the value as a whole is not an object.
    public let field: String?
    public let reason: String

    public init(field: String?, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { field.map { "\($0): \(reason)" } ?? reason }
}

/// Typed reads of a JSON object's members for the hand-written codecs (token claims, stored snapshots and policies).
/// As with the `Codable` forms they replace: a missing member and `null` both mean absent, and unknown members are
/// ignored, so an older or newer writer's JSON still reads.
struct JSONFields {
    let members: [String: JSONValue]

    init(_ value: JSONValue) throws(JSONShapeError) {
        guard case .object(let members) = value else { throw JSONShapeError(field: nil, "expected an object, not \(value.typeName)") }
        self.members = members
    }

    /// Parses `text` and requires an object.
    init(parsing text: String) throws {
        try self.init(try JSONParser.parse(Array(text.utf8)))
    }

    /// The member, or `nil` if it is missing or `null`.
    func optional(_ key: String) -> JSONValue? {
        switch members[key] {
        case nil, .null?: nil
        case let value?: value
        }
    }

    private func required(_ key: String) throws(JSONShapeError) -> JSONValue {
        guard let value = optional(key) else { throw JSONShapeError(field: key, "is required") }
        return value
    }

    func optionalString(_ key: String) throws(JSONShapeError) -> String? {
        guard let value = optional(key) else { return nil }
        guard case .string(let s) = value else { throw JSONShapeError(field: key, "expected a string, not \(value.typeName)") }
        return s
    }

    func string(_ key: String) throws(JSONShapeError) -> String {
        guard let s = try optionalString(key) else { throw JSONShapeError(field: key, "is required") }
        return s
    }

    func optionalBool(_ key: String) throws(JSONShapeError) -> Bool? {
        guard let value = optional(key) else { return nil }
        guard case .bool(let b) = value else { throw JSONShapeError(field: key, "expected a boolean, not \(value.typeName)") }
        return b
    }

    func optionalInt64(_ key: String) throws(JSONShapeError) -> Int64? {
        guard let value = optional(key) else { return nil }
        guard case .number(let n) = value, let i = n.int64Value else { throw JSONShapeError(field: key, "expected an integer") }
        return i
    }

    func int64(_ key: String) throws(JSONShapeError) -> Int64 {
        guard let i = try optionalInt64(key) else { throw JSONShapeError(field: key, "is required") }
        return i
    }

    func optionalInt(_ key: String) throws(JSONShapeError) -> Int? {
        guard let i = try optionalInt64(key) else { return nil }
        guard let exact = Int(exactly: i) else { throw JSONShapeError(field: key, "is out of range") }
        return exact
    }

    func int(_ key: String) throws(JSONShapeError) -> Int {
        guard let i = try optionalInt(key) else { throw JSONShapeError(field: key, "is required") }
        return i
    }

    func strings(_ key: String) throws(JSONShapeError) -> [String] {
        guard case .array(let items) = try required(key) else { throw JSONShapeError(field: key, "expected an array of strings") }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .string(let s) = item else { throw JSONShapeError(field: key, "expected an array of strings") }
            out.append(s)
        }
        return out
    }

    /// A string member read as a `RawRepresentable` (`Channel`, `VerificationState`).
    func raw<T: RawRepresentable>(_ key: String, as type: T.Type) throws(JSONShapeError) -> T where T.RawValue == String {
        let text = try string(key)
        guard let value = T(rawValue: text) else { throw JSONShapeError(field: key, "unknown value \"\(text.prefix(32))\"") }
        return value
    }
}
