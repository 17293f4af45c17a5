import Foundation
public import HTTPTypes
import Hummingbird
public import OTPGateCore

/// An RFC 9457 problem: every native-API error leaves as `application/problem+json` with a stable `code`.
public struct Problem: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var title: String
    public var detail: String
    public var field: String?
    public var extensions: [String: JSONValue] = [:]
    public var retryAfter: Duration?

    public init(status: HTTPResponse.Status, code: String, title: String, detail: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.field = field
    }

    static func invalidField(_ field: String, _ detail: String) -> Problem {
        Problem(status: .unprocessableContent, code: "invalid_field", title: "Invalid field", detail: "\(field) \(detail)", field: field)
    }

    static func unauthorized(_ detail: String) -> Problem {
        Problem(status: .unauthorized, code: "unauthorized", title: "Unauthorized", detail: detail)
    }

    static func malformedJSON(_ detail: String) -> Problem {
        Problem(status: .badRequest, code: "malformed_json", title: "Malformed JSON", detail: detail)
    }

    /// Well-formed JSON the API still refuses: a key repeated in one object.
    static func invalidJSON(_ detail: String) -> Problem {
        Problem(status: .badRequest, code: "invalid_json", title: "Invalid JSON", detail: detail)
    }

    static let notFound = Problem(status: .notFound, code: "not_found", title: "Not found", detail: "no such resource")

    /// The problem for an engine refusal.
    init(_ error: VerificationError) {
        switch error {
        case .notFound:
            self.init(status: .notFound, code: "not_found", title: "Verification not found", detail: "no verification with this id")
        case .incorrectCode(let remaining):
            self.init(status: .unprocessableContent, code: "incorrect_code", title: "Incorrect code", detail: "the code does not match")
            extensions["attempts_remaining"] = .int(remaining)
        case .maxAttemptsReached:
            self.init(status: .tooManyRequests, code: "max_attempts_reached", title: "Too many attempts",
                      detail: "this verification allows no more checks; start a new one")
        case .expired:
            self.init(status: .gone, code: "expired", title: "Verification expired", detail: "the code has expired; start a new verification")
        case .alreadyApproved:
            self.init(status: .conflict, code: "already_approved", title: "Already approved", detail: "this verification was already approved")
        case .canceled:
            self.init(status: .conflict, code: "canceled", title: "Verification canceled", detail: "this verification was canceled")
        case .resendCooldown(let retryAfter):
            self.init(status: .tooManyRequests, code: "resend_cooldown", title: "Resend cooldown", detail: "wait before sending another code")
            self.retryAfter = retryAfter
        case .maxSendsReached:
            self.init(status: .tooManyRequests, code: "max_sends_reached", title: "Too many sends",
                      detail: "this verification has sent its maximum number of codes")
        case .destinationRateLimited(let retryAfter):
            self.init(status: .tooManyRequests, code: "rate_limited", title: "Rate limited", detail: "too many verifications to this destination")
            self.retryAfter = retryAfter
            extensions["scope"] = .string("destination")
        case .destinationLocked(let retryAfter):
            self.init(status: .tooManyRequests, code: "destination_locked", title: "Destination locked",
                      detail: "too many failed checks for this destination")
            self.retryAfter = retryAfter
        case .keyRateLimited(let retryAfter):
            self.init(status: .tooManyRequests, code: "rate_limited", title: "Rate limited", detail: "too many requests for this API key")
            self.retryAfter = retryAfter
            extensions["scope"] = .string("api_key")
        case .idempotencyKeyReused:
            self.init(status: .unprocessableContent, code: "idempotency_key_reused", title: "Idempotency key reused",
                      detail: "this Idempotency-Key was used with a different request in the last 24 hours")
        case .channelMismatch:
            self.init(status: .unprocessableContent, code: "invalid_field", title: "Invalid field",
                      detail: "channel cannot deliver to this verification's destination", field: "channel")
        }
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
