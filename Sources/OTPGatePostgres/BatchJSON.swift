import Foundation
import OTPGateCore

/// The rows of a batch as one JSON parameter, expanded in SQL by `jsonb_to_recordset(…) AS x(column type, …)`:
/// a batch is one statement (and one prepared plan) whatever its size, and NULLs need no special casing.
struct BatchJSON: Sendable {
    private var rows: [JSONValue] = []

    var isEmpty: Bool { rows.isEmpty }

    mutating func append(_ fields: [String: JSONValue]) { rows.append(.object(fields)) }

    var text: String { JSONValue.array(rows).canonicalText }
}

extension JSONValue {
    // Integers use OTPGateCore's `JSONValue.int(_:)`, which writes their exact digits.
    static func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
    static func time(_ value: Timestamp?) -> JSONValue { value.map { .int($0.milliseconds) } ?? .null }
    /// Base64, decoded in SQL with `decode(column, 'base64')`.
    static func bytes<Bytes: Sequence<UInt8>>(_ value: Bytes) -> JSONValue { .string(Data(value).base64EncodedString()) }
}
