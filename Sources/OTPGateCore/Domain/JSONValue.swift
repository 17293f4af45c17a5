/// Any JSON value: request bodies are parsed into this first, so validation can name the offending field,
/// and a verification's free-form `context` keeps its structure, and each number its exact text, into the token.
/// `JSONParser` reads it and `serialized` writes it: the project's one JSON path.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `text` (see `JSONParser`: strict, duplicate keys refused, numbers kept as written).
    public init(parsing text: String) throws(JSONParser.Failure) {
        self = try JSONParser.parse(Array(text.utf8))
    }

    /// An integer.
    public static func int(_ value: Int) -> JSONValue { .number(JSONNumber(value)) }
    public static func int(_ value: Int64) -> JSONValue { .number(JSONNumber(value)) }
    /// A `Double` in its shortest round-trip text, or `null` for NaN and the infinities, which JSON cannot carry.
    public static func double(_ value: Double) -> JSONValue { JSONNumber(value).map(JSONValue.number) ?? .null }

    /// The number as an exact `Int` (see `JSONNumber.intValue`); `nil` for anything else.
    public var intValue: Int? {
        guard case .number(let n) = self else { return nil }
        return n.intValue
    }

    /// The number as the nearest `Double` (see `JSONNumber.doubleValue`); `nil` for anything that is not a number.
    public var doubleValue: Double? {
        guard case .number(let n) = self else { return nil }
        return n.doubleValue
    }

    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// For interoperating with `Codable` code outside the server (tests, tools). Lossy where Foundation's coders are: a
/// number becomes an `Int64` or `UInt64` when it is an exact integer and a `Double` otherwise, and duplicate keys go
/// unnoticed. The server itself never goes through it.
extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        // Most common first: every failed attempt costs a thrown DecodingError.
        if c.decodeNil() {
            self = .null
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let o = try? c.decode([String: JSONValue].self) {
            self = .object(o)
        } else if let i = try? c.decode(Int64.self) {
            self = .number(JSONNumber(i))
        } else if let u = try? c.decode(UInt64.self) {
            self = .number(JSONNumber(u))
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else {
            self = .array(try c.decode([JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if let i = n.int64Value { try c.encode(i) } else if let u = n.uint64Value { try c.encode(u) } else { try c.encode(n.doubleValue) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
