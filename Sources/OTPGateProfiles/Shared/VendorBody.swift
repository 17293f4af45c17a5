import Foundation
import Hummingbird
import OTPGateCore
import OTPGateNativeAPI

/// Why a vendor request's body is not what the endpoint takes; each profile renders it in its own envelope.
enum VendorInputError: Error, Equatable {
    case malformedBody
    case missing(String)
    case wrongType(String, expected: String)
    case invalid(String, reason: String)

    var field: String? {
        switch self {
        case .malformedBody: nil
        case .missing(let f), .wrongType(let f, _), .invalid(let f, _): f
        }
    }

    var message: String {
        switch self {
        case .malformedBody: "Malformed JSON body"
        case .missing(let f): "\(f) is required"
        case .wrongType(let f, let expected): "\(f) must be \(expected)"
        case .invalid(let f, let reason): "\(f) \(reason)"
        }
    }
}

/// A vendor request's JSON object body. Unknown members are ignored, as the vendors' own APIs do; a member that is
/// present must have the documented type (a string where the vendor documents a string).
struct VendorBody {
    let fields: [String: JSONValue]

    static func read(_ request: Request, context: AppRequestContext) async throws -> VendorBody {
        let bytes = try await context.collectBody(request)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return VendorBody(fields: [:]) }
        guard case .object(let fields) = try? JSONParser.parse(bytes) else { throw VendorInputError.malformedBody }
        return VendorBody(fields: fields)
    }

    func optionalString(_ name: String) throws(VendorInputError) -> String? {
        switch fields[name] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw .wrongType(name, expected: "a string")
        }
    }

    /// A required, non-blank string.
    func string(_ name: String) throws(VendorInputError) -> String {
        guard let s = try optionalString(name), !s.allSatisfy(\.isWhitespace) else { throw .missing(name) }
        guard s.utf8.count <= 1024 else { throw .invalid(name, reason: "is too long") }
        return s
    }

    func optionalInt(_ name: String) throws(VendorInputError) -> Int? {
        switch fields[name] {
        case nil, .null?: return nil
        case .number(let n)?:
            guard let i = n.int64Value, let exact = Int(exactly: i) else { throw .wrongType(name, expected: "an integer") }
            return exact
        default: throw .wrongType(name, expected: "an integer")
        }
    }

    func optionalBool(_ name: String) throws(VendorInputError) -> Bool? {
        switch fields[name] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw .wrongType(name, expected: "a boolean")
        }
    }

    /// A six-digit-style OTP: digits only, 4 to 10 of them.
    func otp(_ name: String = "otp") throws(VendorInputError) -> String {
        let value = try string(name).trimmingCharacters(in: .whitespaces)
        guard (4...10).contains(value.count), value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .invalid(name, reason: "must be the digits of the OTP")
        }
        return value
    }

    /// A PAN, upper-cased.
    func pan(_ name: String) throws(VendorInputError) -> String {
        let value = RecordKeys.canonicalIdentifier(try string(name))
        guard RecordKeys.isPAN(value) else { throw .invalid(name, reason: "is not a valid PAN") }
        return value
    }
}
