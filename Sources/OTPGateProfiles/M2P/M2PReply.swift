import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OTPGateCore
import OTPGateNativeAPI

/// An M2P answer: `{"result": …, "pagination": null}` on success; every failure M2P's problem+json
/// (`type`, `title`, `status`, `detail`, `message`, and `businessCode` for a business rule), as its API library shows.
struct M2PReply: Error, Equatable {
    var status: Int
    var body: [String: JSONValue]
    var retryAfter: Duration?
    var contentType = "application/json"

    static let problemType = "https://www.m2pfintech.com/problem/problem-with-message"

    static func result(_ result: [String: JSONValue]) -> M2PReply {
        M2PReply(status: 200, body: ["result": .object(result), "pagination": .null])
    }

    /// A problem: `message` is `error.http.<status>` for transport errors and `error.business` for business rules.
    static func problem(_ status: Int, title: String, detail: String? = nil, businessCode: String? = nil, retryAfter: Duration? = nil) -> M2PReply {
        var body: [String: JSONValue] = [
            "type": .string(problemType), "title": .string(title), "status": .int(Int64(status)), "detail": .string(detail ?? title),
            "message": .string(businessCode == nil ? "error.http.\(status)" : "error.business"),
        ]
        body["businessCode"] = businessCode.map(JSONValue.string)
        return M2PReply(status: status, body: body, retryAfter: retryAfter, contentType: "application/problem+json")
    }

    /// A 409 business rule.
    static func business(_ title: String, code: String, retryAfter: Duration? = nil) -> M2PReply {
        problem(409, title: title, businessCode: code, retryAfter: retryAfter)
    }

    /// Any body that does not parse, or a field of the wrong type: M2P's documented 400.
    static let unconvertible = problem(400, title: "Bad Request", detail: "Unable to convert http message")
    static func badRequest(_ detail: String) -> M2PReply { problem(400, title: "Bad Request", detail: detail) }
    static func unauthorized(_ detail: String) -> M2PReply { problem(401, title: "Unauthorized", detail: detail) }
    static let noAccount = business("No account found", code: "PP_MIDD_027")
    static let validationsExhausted = business("Otp Validation is not allowed more than 3 times in 24hrs", code: "PP_MIDD_034")
    // Inferred (M2P does not publish them for V2): OTP_002 to OTP_005 are its V1 otp-manager's codes for the same
    // failures; OTP_001, OTP_006, OTP_007, OTP_008 and IDEMPOTENCY_KEY_REUSED are OTPGate's own (docs/compat/m2p.md).
    static let invalidOTP = business("Invalid OTP", code: "OTP_002")
    static let expiredOTP = business("OTP expired", code: "OTP_003")
    static let alreadyValidated = business("OTP already validated", code: "OTP_006")
    static let unknownTrace = business("No OTP found for this traceNumber", code: "OTP_001")

    var response: Response {
        var headers: HTTPFields = [.contentType: contentType]
        if let retryAfter { headers[.retryAfter] = String(retryAfterSeconds(retryAfter)) }
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(body).serialized))
        )
    }

    /// A refused generate: over the per-mobile limit is M2P's documented 409 (code inferred: V1's `OTP_004`).
    static func generateRefusal(_ error: VerificationError) -> M2PReply {
        switch error {
        case .destinationRateLimited(let wait), .resendCooldown(let wait):
            business("OTP generation limit exceeded. Please retry after \(retryAfterSeconds(wait)) seconds.", code: "OTP_004", retryAfter: wait)
        case .maxSendsReached: business("OTP generation limit exceeded.", code: "OTP_004")
        case .destinationLocked(let wait):
            business("OTP generation is blocked for this customer after failed validations.", code: "OTP_005", retryAfter: wait)
        case .keyRateLimited(let wait), .clientRateLimited(let wait), .suspectedPumping(let wait), .budgetExhausted(let wait):
            problem(429, title: "Too Many Requests", detail: "Rate limit exceeded", retryAfter: wait)
        case .destinationNotAllowed, .testDestinationNotAllowed: business("OTP cannot be sent to this mobile number.", code: "OTP_008")
        case .idempotencyKeyReused:
            business("X-Request-ID was already used with a different request", code: "IDEMPOTENCY_KEY_REUSED")
        case .notFound, .canceled, .expired, .incorrectCode, .channelMismatch, .alreadyApproved, .maxAttemptsReached, .channelUnavailable:
            problem(503, title: "Service Unavailable", detail: "Please retry")
        }
    }

    static func validateRefusal(_ error: VerificationError) -> M2PReply {
        switch error {
        case .incorrectCode: invalidOTP
        case .expired: expiredOTP
        case .maxAttemptsReached: validationsExhausted
        case .alreadyApproved: alreadyValidated
        case .notFound, .canceled: unknownTrace
        case .destinationLocked(let wait):
            business("OTP validation is blocked for this customer after failed validations.", code: "OTP_005", retryAfter: wait)
        case .keyRateLimited(let wait), .destinationRateLimited(let wait), .clientRateLimited(let wait), .suspectedPumping(let wait),
            .budgetExhausted(let wait):
            problem(429, title: "Too Many Requests", detail: "Rate limit exceeded", retryAfter: wait)
        case .resendCooldown, .maxSendsReached, .idempotencyKeyReused, .channelMismatch, .channelUnavailable, .destinationNotAllowed,
            .testDestinationNotAllowed:
            invalidOTP
        }
    }

    static func mapping(_ error: any Error, logger: Logger) -> M2PReply {
        switch error {
        case let reply as M2PReply: return reply
        case let input as VendorInputError: return input == .malformedBody ? unconvertible : badRequest(input.message)
        case let refusal as VerificationError: return generateRefusal(refusal)
        case let problem as Problem:
            return problem.status.code == 413
                ? Self.problem(413, title: "Payload Too Large", detail: "Request body too large")
                : Self.problem(Int(problem.status.code), title: problem.status.reasonPhrase)
        case let http as HTTPError: return problem(Int(http.status.code), title: http.status.reasonPhrase)
        case is StoreError:
            logger.error("m2p: store unavailable", metadata: ["error": "\(error)"])
            return problem(503, title: "Service Unavailable", detail: "Service temporarily unavailable")
        default:
            logger.error("m2p: unexpected error", metadata: ["error_type": "\(type(of: error))"])
            return problem(500, title: "Internal Server Error", detail: "Internal server error")
        }
    }
}
