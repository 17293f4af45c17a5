import Foundation
public import HTTPTypes
public import Hummingbird
public import OTPGateCore

/// An RFC 9457 problem: every native-API error leaves as `application/problem+json` with a stable `code` from
/// `ProblemCatalog`. It renders itself (`HTTPResponseError`); `NativeErrorMapping` turns engine and storage errors
/// into problems — the pattern a vendor profile copies for its own envelope.
public struct Problem: HTTPResponseError, Sendable {
    public let entry: ProblemCatalog.Entry
    public var title: String
    public var detail: String
    public var field: String?
    public var extensions: [String: JSONValue] = [:]
    public var retryAfter: Duration?

    public var status: HTTPResponse.Status { entry.httpStatus }
    public var code: String { entry.code }

    /// - Parameter title: a more specific title than the catalog's, for the same code.
    public init(_ entry: ProblemCatalog.Entry, title: String? = nil, detail: String, field: String? = nil) {
        self.entry = entry
        self.title = title ?? entry.title
        self.detail = detail
        self.field = field
    }

    static func invalidField(_ field: String, _ detail: String) -> Problem {
        Problem(ProblemCatalog.invalidField, detail: "\(field) \(detail)", field: field)
    }

    static func unauthorized(_ detail: String) -> Problem { Problem(ProblemCatalog.unauthorized, detail: detail) }

    static func malformedJSON(_ detail: String) -> Problem { Problem(ProblemCatalog.malformedJSON, detail: detail) }

    static func invalidJSON(_ detail: String) -> Problem { Problem(ProblemCatalog.invalidJSON, detail: detail) }

    static let notFound = Problem(ProblemCatalog.notFound, detail: "no such resource")

    static let internalError = Problem(ProblemCatalog.internalError, detail: "an unexpected error occurred")

    /// Renders the problem; the body's `request_id` is the request's `X-Request-Id`.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(requestID: context.id)
    }

    /// The response body and headers.
    func response(requestID: String?) -> Response {
        var body: [String: JSONValue] = extensions
        body["type"] = .string("urn:otpgate:problem:\(code)")
        body["title"] = .string(title)
        body["status"] = .int(status.code)
        body["detail"] = .string(detail)
        body["code"] = .string(code)
        if let field { body["field"] = .string(field) }
        if let requestID { body["request_id"] = .string(requestID) }
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfter {
            let seconds = max(1, retryAfter.secondsRoundedUp)
            headers[.retryAfter] = String(seconds)
            body["retry_after"] = .int(seconds)
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(body).serialized)))
    }
}
