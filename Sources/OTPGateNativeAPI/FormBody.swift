import Hummingbird
import NIOCore

/// A request body in `application/x-www-form-urlencoded` (what vendor-compatible APIs such as Twilio's receive), read
/// through Hummingbird's `URLEncodedFormDecoder` into plain fields: `+` and percent-escapes decoded, each name at most
/// once. Anything else is refused with 400 `malformed_form`, whose detail never repeats a value (a value may be a
/// phone number or a code).
package struct FormBody {
    package let fields: [String: String]

    /// Reads and parses the body, with the same 64 KiB limit as JSON bodies; an empty body has no fields.
    static func read(_ request: Request, context: AppRequestContext) async throws -> FormBody {
        return FormBody(fields: try parse(try await context.collectBody(request)))
    }

    /// The fields of a form-encoded body. `name=value` pairs separated by `&`; a pair without `=` is ignored, as
    /// Hummingbird does. Bracketed names (`a[]=1`, `a[b]=1`) are refused: vendor forms are flat.
    package static func parse(_ bytes: [UInt8]) throws(Problem) -> [String: String] {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw malformed("the request body is not valid UTF-8") }
        do {
            return try URLEncodedFormDecoder().decode([String: String].self, from: text)
        } catch let error as URLEncodedFormError {
            switch error.code {
            case .duplicateKeys: throw malformed("the field \(error.value.prefix(64)) appears more than once")
            case .failedToPercentDecode: throw malformed("a field name or value is not valid percent-encoding")
            case .corruptKeyValue: throw malformed("a field name has malformed brackets")
            default: throw malformed("fields must be plain name=value pairs, without [] or [name] suffixes")
            }
        } catch {
            // A bracketed name decodes to an array or a dictionary, which is not a string.
            throw malformed("fields must be plain name=value pairs, without [] or [name] suffixes")
        }
    }

    private static func malformed(_ detail: String) -> Problem {
        Problem(ProblemCatalog.malformedForm, detail: detail)
    }
}
