import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OTPGateCore
import OTPGateNativeAPI

/// A Surepass answer: `{data, status_code, message_code, message, success}`, the HTTP status equal to `status_code`.
struct SurepassReply: Error, Equatable {
    var status: Int
    var messageCode: String?
    var message: String
    var data: JSONValue
    /// Surepass's 401 has no `data` member at all.
    var omitsData = false
    var retryAfter: Duration?

    static func success(_ data: JSONValue, message: String = "Success") -> SurepassReply {
        SurepassReply(status: 200, messageCode: "success", message: message, data: data)
    }

    static func failure(_ status: Int, _ code: String?, _ message: String, data: JSONValue = .null) -> SurepassReply {
        SurepassReply(status: status, messageCode: code, message: message, data: data)
    }

    var response: Response {
        var body: [String: JSONValue] = [
            "status_code": .int(status), "message_code": messageCode.map(JSONValue.string) ?? .null, "message": .string(message),
            "success": .bool(status < 300),
        ]
        if !omitsData { body["data"] = data }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(max(1, Int((retryAfter + .milliseconds(999)).components.seconds))) }
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(body).serialized))
        )
    }

    // MARK: the documented failures

    /// The seed's body for an unknown or expired client_id (generate-2fa, submit-2fa).
    static let clientNotFound = failure(404, nil, "Client with given Client ID not found.")
    static let unauthorized: SurepassReply = {
        var r = failure(401, "unauthorized", "Invalid or missing authentication token")
        r.omitsData = true
        return r
    }()
    static let invalidOTP = failure(422, "invalid_otp", "The OTP entered is invalid. Please check and try again.")
    static let mobileNotMatched = failure(422, "mobile_number_not_matched", "Mobile Number not matched with CKYC.")
    static let mobileDoesNotExist = failure(422, "mobile_does_not_exist_ckyc", "Mobile Number does not exist in CKYC.")
    static let mobileNotRegistered = failure(422, "mobile_not_registered", "Mobile Number not registered.")

    static func rateLimited(_ code: String, _ message: String, retryAfter: Duration?) -> SurepassReply {
        var r = failure(429, code, message)
        r.retryAfter = retryAfter
        return r
    }

    /// An engine refusal while sending an OTP.
    static func sendRefusal(_ error: VerificationError) -> SurepassReply {
        switch error {
        case .resendCooldown(let wait):
            rateLimited("otp_resend_too_soon", "Please wait \(seconds(wait)) seconds before requesting a new OTP.", retryAfter: wait)
        case .maxSendsReached: rateLimited("otp_limit_exceeded", "OTP send limit reached for this client_id.", retryAfter: nil)
        case .destinationRateLimited(let wait), .keyRateLimited(let wait):
            rateLimited("rate_limit_exceeded", "Too many requests. Please try again later.", retryAfter: wait)
        case .destinationLocked(let wait): rateLimited("too_many_attempts", "Too many wrong OTPs. Please try again later.", retryAfter: wait)
        case .alreadyApproved: failure(422, "otp_already_verified", "OTP already verified for this client_id.")
        case .maxAttemptsReached: failure(422, "max_attempts_exceeded", "Maximum OTP attempts exceeded. Start a new session.")
        case .notFound, .canceled, .expired, .incorrectCode, .idempotencyKeyReused, .channelMismatch: clientNotFound
        case .channelUnavailable: failure(503, "service_unavailable", "OTP delivery is not available. Please retry later.")
        case .destinationNotAllowed, .testDestinationNotAllowed: failure(422, "mobile_not_allowed", "OTP cannot be sent to this mobile number.")
        case .clientRateLimited(let wait): rateLimited("rate_limit_exceeded", "Too many requests. Please try again later.", retryAfter: wait)
        case .suspectedPumping(let wait):
            rateLimited("rate_limit_exceeded", "OTP requests to this mobile series are paused. Please try again later.", retryAfter: wait)
        case .budgetExhausted(let wait): rateLimited("rate_limit_exceeded", "OTP sending limit reached. Please try again later.", retryAfter: wait)
        }
    }

    /// An engine refusal while checking an OTP; `invalid` is the endpoint's own wrong-OTP body.
    static func checkRefusal(_ error: VerificationError, invalid: SurepassReply) -> SurepassReply {
        switch error {
        case .incorrectCode: invalid
        case .expired:
            SurepassReply(
                status: invalid.status, messageCode: "otp_expired", message: "The OTP has expired. Please generate a new OTP.", data: invalid.data)
        case .maxAttemptsReached:
            SurepassReply(
                status: invalid.status, messageCode: "max_attempts_exceeded", message: "Maximum OTP attempts exceeded. Start a new session.",
                data: invalid.data)
        case .alreadyApproved:
            SurepassReply(status: invalid.status, messageCode: "otp_already_used", message: "This OTP has already been used.", data: invalid.data)
        case .notFound, .canceled:
            SurepassReply(
                status: invalid.status, messageCode: "otp_not_generated", message: "Generate an OTP for this client_id first.", data: invalid.data)
        case .destinationLocked(let wait): rateLimited("too_many_attempts", "Too many wrong OTPs. Please try again later.", retryAfter: wait)
        case .keyRateLimited(let wait), .destinationRateLimited(let wait), .clientRateLimited(let wait), .suspectedPumping(let wait),
            .budgetExhausted(let wait):
            rateLimited("rate_limit_exceeded", "Too many requests. Please try again later.", retryAfter: wait)
        case .resendCooldown, .maxSendsReached, .idempotencyKeyReused, .channelMismatch, .channelUnavailable, .destinationNotAllowed,
            .testDestinationNotAllowed:
            invalid
        }
    }

    static func seconds(_ d: Duration) -> Int { retryAfterSeconds(d) }

    /// Any failure under `/api/v1/` in Surepass's envelope: never problem+json, never HTML.
    static func mapping(_ error: any Error, logger: Logger) -> SurepassReply {
        switch error {
        case let reply as SurepassReply: return reply
        case let input as VendorInputError:
            if input == .malformedBody { return failure(400, "bad_request", "Malformed JSON body") }
            return failure(422, "validation_error", input.message)
        case let refusal as VerificationError: return sendRefusal(refusal)
        case is PasswordCheckPool.Busy:
            return rateLimited("rate_limit_exceeded", "Too many password checks in progress. Please try again.", retryAfter: .seconds(1))
        case let problem as Problem:
            return failure(Int(problem.status.code), problem.status.code == 413 ? "payload_too_large" : "bad_request", problem.status.reasonPhrase)
        case let http as HTTPError:
            return failure(Int(http.status.code), http.status == .notFound ? "not_found" : "bad_request", http.status.reasonPhrase)
        case is StoreError:
            logger.error("surepass: store unavailable", metadata: ["error": "\(error)"])
            return failure(503, "service_unavailable", "Service temporarily unavailable. Please retry.")
        default:
            logger.error("surepass: unexpected error", metadata: ["error_type": "\(type(of: error))"])
            return failure(500, "internal_server_error", "Internal server error")
        }
    }
}
