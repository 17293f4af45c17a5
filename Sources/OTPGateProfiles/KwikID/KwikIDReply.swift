import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OTPGateCore
import OTPGateNativeAPI

/// A KwikID answer: the body as given (`{"otp_status": …}`, `{"itr_data": …}`) on success; `{detail, message}` for 400
/// and 401, `{status, message}` for 429 and `{error}` for server errors, as KwikID documents them.
struct KwikIDReply: Error, Equatable {
    var status: Int
    var body: JSONValue
    var retryAfter: Duration?

    static func ok(_ body: [String: JSONValue]) -> KwikIDReply { KwikIDReply(status: 200, body: .object(body)) }

    /// 400 with `detail` naming the field: `{"detail": {"body": {"pan": ["…"]}}, "message": "…"}`.
    static func validation(field: String?, _ message: String) -> KwikIDReply {
        let detail: JSONValue = field.map { .object(["body": .object([$0: .array([.string(message)])])]) } ?? .object([:])
        return KwikIDReply(status: 400, body: .object(["detail": detail, "message": .string(message)]))
    }

    static func badRequest(_ message: String) -> KwikIDReply {
        KwikIDReply(status: 400, body: .object(["detail": .object([:]), "message": .string(message)]))
    }

    static func unauthorized(_ message: String) -> KwikIDReply {
        KwikIDReply(status: 401, body: .object(["detail": .object([:]), "message": .string(message)]))
    }

    static func rateLimited(retryAfter: Duration?) -> KwikIDReply {
        KwikIDReply(status: 429, body: .object(["status": .int(429), "message": .string("Rate limit exceeded")]), retryAfter: retryAfter)
    }

    static func serverError(_ status: Int, _ message: String) -> KwikIDReply {
        KwikIDReply(status: status, body: .object(["error": .string(message)]))
    }

    static let sessionNotFound = badRequest("No ITR session for this PAN. Call get_otp first.")
    static let invalidOTP = validation(field: "otp", "Invalid OTP")

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(SurepassReply.seconds(retryAfter)) }
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.serialized)))
    }

    static func sendRefusal(_ error: VerificationError) -> KwikIDReply {
        switch error {
        case .resendCooldown(let wait), .destinationRateLimited(let wait), .keyRateLimited(let wait), .destinationLocked(let wait):
            rateLimited(retryAfter: wait)
        case .maxSendsReached: rateLimited(retryAfter: nil)
        case .maxAttemptsReached: badRequest("Maximum OTP attempts exceeded. Call get_otp after the session ends.")
        case .alreadyApproved: badRequest("OTP already verified for this session.")
        case .notFound, .canceled, .expired, .incorrectCode, .idempotencyKeyReused, .channelMismatch: sessionNotFound
        case .channelUnavailable: serverError(503, "SMS delivery is not available")
        case .destinationNotAllowed, .testDestinationNotAllowed: badRequest("OTP cannot be sent to this mobile number.")
        case .clientRateLimited(let wait), .suspectedPumping(let wait), .budgetExhausted(let wait): rateLimited(retryAfter: wait)
        }
    }

    static func checkRefusal(_ error: VerificationError) -> KwikIDReply {
        switch error {
        case .incorrectCode: invalidOTP
        case .expired: validation(field: "otp", "OTP expired")
        case .maxAttemptsReached: validation(field: "otp", "Maximum OTP attempts exceeded")
        case .alreadyApproved: validation(field: "otp", "OTP already used")
        case .notFound, .canceled: sessionNotFound
        case .destinationLocked(let wait), .keyRateLimited(let wait), .destinationRateLimited(let wait), .clientRateLimited(let wait),
            .suspectedPumping(let wait), .budgetExhausted(let wait):
            rateLimited(retryAfter: wait)
        case .resendCooldown, .maxSendsReached, .idempotencyKeyReused, .channelMismatch, .channelUnavailable, .destinationNotAllowed,
            .testDestinationNotAllowed:
            invalidOTP
        }
    }

    static func mapping(_ error: any Error, logger: Logger) -> KwikIDReply {
        switch error {
        case let reply as KwikIDReply: return reply
        case let input as VendorInputError: return validation(field: input.field, input.message)
        case let refusal as VerificationError: return sendRefusal(refusal)
        case is PasswordCheckPool.Busy: return rateLimited(retryAfter: .seconds(1))
        case let problem as Problem:
            return problem.status.code == 413 ? badRequest("Request body too large") : badRequest(problem.status.reasonPhrase)
        case let http as HTTPError:
            return KwikIDReply(status: Int(http.status.code), body: .object(["detail": .object([:]), "message": .string(http.status.reasonPhrase)]))
        case is StoreError:
            logger.error("kwikid: store unavailable", metadata: ["error": "\(error)"])
            return serverError(503, "Service temporarily unavailable")
        default:
            logger.error("kwikid: unexpected error", metadata: ["error_type": "\(type(of: error))"])
            return serverError(500, "Internal server error")
        }
    }
}
