import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OTPGateCore
import OTPGateNativeAPI

/// An Eko answer: the envelope `{status, response_status_id, response_type_id, message, data}` on every status, as Eko's
/// SDKs parse every answer as JSON. Business failures (a wrong OTP, an invalid token) come with HTTP 200 and a non-zero
/// `status`, as Eko documents them; authentication failures with 403 (docs/compat/eko.md lists each).
struct EkoReply: Error, Equatable {
    var httpStatus: Int
    var body: [String: JSONValue]
    var retryAfter: Duration?

    /// Eko's documented response type ids.
    enum TypeID {
        static let otpSent = 1623
        static let otpVerification = 1632
        static let tokenValid = 1633
        static let tokenRejected = 1634
        static let validation = -1
    }

    static func success(typeID: Int, _ message: String, data: [String: JSONValue]) -> EkoReply {
        EkoReply(
            httpStatus: 200,
            body: [
                "status": .int(0), "response_status_id": .int(0), "response_type_id": .int(typeID), "message": .string(message),
                "data": .object(data),
            ])
    }

    /// A business failure, HTTP 200: `status` and `response_status_id` 1 unless Eko documents a code of its own.
    static func failure(status: Int = 1, typeID: Int, _ message: String, data: [String: JSONValue]? = [:]) -> EkoReply {
        var body: [String: JSONValue] = [
            "status": .int(status), "response_status_id": .int(1), "response_type_id": .int(typeID), "message": .string(message),
        ]
        body["data"] = data.map(JSONValue.object)
        return EkoReply(httpStatus: 200, body: body)
    }

    /// Eko's input validation error: `status` 461, `response_type_id` -1 and `invalid_params` naming each field.
    static func invalidParams(_ field: String, _ message: String) -> EkoReply {
        EkoReply(
            httpStatus: 200,
            body: [
                "status": .int(461), "response_status_id": .int(1), "response_type_id": .int(TypeID.validation),
                "message": .string("Invalid parameters"), "invalid_params": .object([field: .string(message)]), "data": .object([:]),
            ])
    }

    /// 403 with a JSON body; `status` names the cause with the codes of Eko's newer error table (2483 developer key,
    /// 2484 secret-key, 2485 stale or reused timestamp, 2486 timestamp format, 2487 missing header).
    static func forbidden(_ status: Int, _ message: String) -> EkoReply {
        EkoReply(
            httpStatus: 403,
            body: [
                "status": .int(status), "response_status_id": .int(-1), "response_type_id": .int(TypeID.validation),
                "message": .string("Forbidden: " + message), "data": .object([:]),
            ])
    }

    /// Too many requests (a resend inside its cooldown, a locked mobile, the credential's request limit): HTTP 429 with
    /// `Retry-After`, and the envelope saying how long to wait.
    static func rateLimited(_ message: String, retryAfter: Duration?) -> EkoReply {
        var data: [String: JSONValue] = [:]
        if let retryAfter { data["retry_after_seconds"] = .int(Int64(seconds(retryAfter))) }
        return EkoReply(
            httpStatus: 429,
            body: [
                "status": .int(429), "response_status_id": .int(1), "response_type_id": .int(TypeID.validation), "message": .string(message),
                "data": .object(data),
            ], retryAfter: retryAfter)
    }

    static func transport(_ httpStatus: Int, _ message: String) -> EkoReply {
        EkoReply(
            httpStatus: httpStatus,
            body: [
                "status": .int(Int64(httpStatus)), "response_status_id": .int(-1), "response_type_id": .int(TypeID.validation),
                "message": .string(message), "data": .object([:]),
            ])
    }

    static let verificationFailed = failure(typeID: TypeID.otpVerification, "OTP verification failed.")
    static let invalidInitiator = failure(status: 319, typeID: TypeID.validation, "Invalid initiator_id")

    static func seconds(_ duration: Duration) -> Int { retryAfterSeconds(duration) }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(Self.seconds(retryAfter)) }
        return Response(
            status: HTTPResponse.Status(code: httpStatus), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(body).serialized)))
    }

    /// A refused send (the engine's cooldown, send limit or lock).
    static func sendRefusal(_ error: VerificationError) -> EkoReply {
        switch error {
        case .resendCooldown(let wait):
            rateLimited("OTP already sent. Please wait \(seconds(wait)) seconds before requesting a new OTP.", retryAfter: wait)
        case .destinationRateLimited(let wait):
            rateLimited("Too many OTPs sent to this mobile. Please retry after \(seconds(wait)) seconds.", retryAfter: wait)
        case .destinationLocked(let wait): rateLimited("This mobile is temporarily locked after failed verifications.", retryAfter: wait)
        case .keyRateLimited(let wait): rateLimited("Too many requests.", retryAfter: wait)
        case .maxSendsReached: rateLimited("Maximum OTP resends reached. Please retry later.", retryAfter: nil)
        case .channelUnavailable: transport(503, "Service temporarily unavailable")
        case .clientRateLimited(let wait): rateLimited("Too many requests.", retryAfter: wait)
        case .suspectedPumping(let wait): rateLimited("OTP requests to this mobile series are paused. Please retry later.", retryAfter: wait)
        case .budgetExhausted(let wait): rateLimited("OTP sending limit reached. Please retry later.", retryAfter: wait)
        case .destinationNotAllowed, .testDestinationNotAllowed: invalidParams("mobile", "OTP cannot be sent to this mobile number")
        case .notFound, .canceled, .expired, .incorrectCode, .idempotencyKeyReused, .channelMismatch, .alreadyApproved, .maxAttemptsReached:
            rateLimited("Please retry.", retryAfter: .seconds(1))
        }
    }

    /// A refused verify: every wrong, expired, spent or unknown OTP is Eko's one documented failure.
    static func checkRefusal(_ error: VerificationError) -> EkoReply {
        switch error {
        case .destinationLocked(let wait): rateLimited("This mobile is temporarily locked after failed verifications.", retryAfter: wait)
        case .keyRateLimited(let wait), .destinationRateLimited(let wait): rateLimited("Too many requests.", retryAfter: wait)
        default: verificationFailed
        }
    }

    static func mapping(_ error: any Error, logger: Logger) -> EkoReply {
        switch error {
        case let reply as EkoReply: return reply
        case let input as VendorInputError:
            return input == .malformedBody ? transport(400, "Malformed request body") : invalidParams(input.field ?? "body", input.message)
        case let refusal as VerificationError: return sendRefusal(refusal)
        case let problem as Problem:
            return problem.status.code == 413
                ? transport(413, "Request body too large") : transport(Int(problem.status.code), problem.status.reasonPhrase)
        case let http as HTTPError: return transport(Int(http.status.code), http.status.reasonPhrase)
        case is StoreError:
            logger.error("eko: store unavailable", metadata: ["error": "\(error)"])
            return transport(503, "Service temporarily unavailable")
        default:
            logger.error("eko: unexpected error", metadata: ["error_type": "\(type(of: error))"])
            return transport(500, "Internal server error")
        }
    }
}
