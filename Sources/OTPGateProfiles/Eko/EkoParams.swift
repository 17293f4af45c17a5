import Foundation
import Hummingbird
import OTPGateCore
import OTPGateNativeAPI

/// An Eko call's parameters, wherever the client put them: the query string (GET), and a body in JSON or
/// `application/x-www-form-urlencoded`. Eko's SDKs send numbers where strings are documented (`"mobile": 9002336768`)
/// and extra fields (`user_code`, `source`), so a number is read as its text and unknown fields are ignored.
struct EkoParams {
    let fields: [String: String]

    static func read(_ request: Request, context: AppRequestContext) async throws -> EkoParams {
        var fields: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { fields[String(name)] = String(value) }
        let bytes = try await context.collectBody(request)
        guard !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else { return EkoParams(fields: fields) }
        let type = request.headers[.contentType]?.lowercased() ?? ""
        if type.hasPrefix("application/x-www-form-urlencoded") {
            guard let form = try? FormBody.parse(bytes) else { throw VendorInputError.malformedBody }
            fields.merge(form) { _, body in body }
            return EkoParams(fields: fields)
        }
        guard type.isEmpty || type.hasPrefix("application/json") || type.hasSuffix("+json") else {
            throw EkoReply.transport(415, "Unsupported Media Type: send application/json or application/x-www-form-urlencoded")
        }
        guard case .object(let members) = try? JSONParser.parse(bytes) else { throw VendorInputError.malformedBody }
        for (name, value) in members {
            switch value {
            case .string(let s): fields[name] = s
            case .number(let n): fields[name] = n.text
            case .bool(let b): fields[name] = b ? "true" : "false"
            case .null: fields[name] = nil
            case .array, .object: throw VendorInputError.wrongType(name, expected: "a string")
            }
        }
        return EkoParams(fields: fields)
    }

    /// A required, non-blank value.
    func string(_ name: String) throws(VendorInputError) -> String {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { throw .missing(name) }
        guard value.utf8.count <= 2048 else { throw .invalid(name, reason: "is too long") }
        return value
    }

    func optionalString(_ name: String) throws(VendorInputError) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return try string(name)
    }

    /// A 10-digit Indian mobile number, as Eko takes it (a leading `+91`, `91` or `0` is tolerated).
    func mobile(_ name: String = "mobile") throws(VendorInputError) -> String {
        var digits = try string(name).filter { $0 != " " && $0 != "-" }
        if digits.hasPrefix("+91") { digits.removeFirst(3) } else if digits.count == 12, digits.hasPrefix("91") { digits.removeFirst(2) }
        if digits.count == 11, digits.hasPrefix("0") { digits.removeFirst() }
        guard digits.count == 10, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let first = digits.first, "6789".contains(first) else {
            throw .invalid(name, reason: "must be a valid 10-digit mobile number")
        }
        return digits
    }

    /// `client_ref_id`: Eko documents up to 20 of `[A-Za-z0-9_-]`; its SDKs send up to a 36-character UUID.
    func clientRefID() throws(VendorInputError) -> String? {
        guard let value = try optionalString("client_ref_id") else { return nil }
        guard value.utf8.count <= 36, value.utf8.allSatisfy({ Self.refCharacters.contains($0) }) else {
            throw .invalid("client_ref_id", reason: "must be at most 36 letters, digits, '-' or '_'")
        }
        return value
    }

    /// The OTP the customer typed: 4 to 10 digits.
    func otp() throws(VendorInputError) -> String {
        let value = try string("otp")
        guard (4...10).contains(value.count), value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .invalid("otp", reason: "must be the digits of the OTP")
        }
        return value
    }

    private static let refCharacters = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8))
}
