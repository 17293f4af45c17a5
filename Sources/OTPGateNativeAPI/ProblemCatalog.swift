public import HTTPTypes

/// Every problem the native API can send: its stable `code`, HTTP status and title. A `Problem` is only built from
/// an entry here, so this list is complete by construction; `OpenAPIContractTests` holds openapi.yaml to it.
public enum ProblemCatalog {
    public struct Entry: Sendable, Hashable {
        public let code: String
        public let httpStatus: HTTPResponse.Status
        public let title: String
        public var status: Int { httpStatus.code }

        init(_ code: String, _ status: HTTPResponse.Status, _ title: String) {
            self.code = code
            self.httpStatus = status
            self.title = title
        }
    }

    public static let malformedJSON = Entry("malformed_json", .badRequest, "Malformed JSON")
    /// Well-formed JSON the API still refuses: a key repeated in one object.
    public static let invalidJSON = Entry("invalid_json", .badRequest, "Invalid JSON")
    /// A form-encoded body that does not parse (for the routes that take forms).
    public static let malformedForm = Entry("malformed_form", .badRequest, "Malformed form")
    public static let unauthorized = Entry("unauthorized", .unauthorized, "Unauthorized")
    public static let notFound = Entry("not_found", .notFound, "Not found")
    public static let alreadyApproved = Entry("already_approved", .conflict, "Already approved")
    public static let canceled = Entry("canceled", .conflict, "Verification canceled")
    public static let expired = Entry("expired", .gone, "Verification expired")
    public static let payloadTooLarge = Entry("payload_too_large", .contentTooLarge, "Payload too large")
    public static let invalidField = Entry("invalid_field", .unprocessableContent, "Invalid field")
    public static let unknownField = Entry("unknown_field", .unprocessableContent, "Unknown field")
    public static let invalidHeader = Entry("invalid_header", .unprocessableContent, "Invalid header")
    public static let incorrectCode = Entry("incorrect_code", .unprocessableContent, "Incorrect code")
    public static let idempotencyKeyReused = Entry("idempotency_key_reused", .unprocessableContent, "Idempotency key reused")
    public static let maxAttemptsReached = Entry("max_attempts_reached", .tooManyRequests, "Too many attempts")
    public static let maxSendsReached = Entry("max_sends_reached", .tooManyRequests, "Too many sends")
    public static let resendCooldown = Entry("resend_cooldown", .tooManyRequests, "Resend cooldown")
    public static let rateLimited = Entry("rate_limited", .tooManyRequests, "Rate limited")
    public static let destinationLocked = Entry("destination_locked", .tooManyRequests, "Destination locked")
    /// The channel has no delivery provider on this server (production without a gateway for it).
    public static let channelUnavailable = Entry("channel_unavailable", .unprocessableContent, "Channel unavailable")
    public static let destinationNotAllowed = Entry("destination_not_allowed", .forbidden, "Destination not allowed")
    public static let clientRateLimited = Entry("client_rate_limited", .tooManyRequests, "Client rate limited")
    public static let suspectedPumping = Entry("suspected_pumping", .tooManyRequests, "Suspected SMS pumping")
    public static let budgetExhausted = Entry("budget_exhausted", .tooManyRequests, "Send budget exhausted")
    public static let internalError = Entry("internal", .internalServerError, "Internal error")
    public static let unavailable = Entry("unavailable", .serviceUnavailable, "Service unavailable")

    public static let all: [Entry] = [
        malformedJSON, invalidJSON, malformedForm, unauthorized, notFound, alreadyApproved, canceled, expired, payloadTooLarge,
        invalidField, unknownField, invalidHeader, incorrectCode, idempotencyKeyReused, maxAttemptsReached, maxSendsReached,
        resendCooldown, rateLimited, destinationLocked, channelUnavailable, destinationNotAllowed, clientRateLimited, suspectedPumping,
        budgetExhausted, internalError, unavailable,
    ]

    /// The error statuses an operation can answer (`method` lowercased, `path` as OpenAPI writes it). Every `/v1`
    /// route can answer 401, 429 (the per-key limit), 500 and 503; a route that reads a body adds 400, 413 and 422.
    public static func statuses(method: String, path: String) -> Set<Int> {
        let authenticated: Set<Int> = [401, 429, 500, 503]
        let withBody = authenticated.union([400, 413, 422])
        switch (method, path) {
        case ("post", "/v1/verifications"): return withBody.union([403])
        case ("get", "/v1/verifications/{id}"): return authenticated.union([404])
        case ("post", "/v1/verifications/{id}/check"), ("post", "/v1/verifications/{id}/resend"), ("post", "/v1/verifications/{id}/cancel"):
            return withBody.union([404, 409, 410])
        case ("post", "/v1/tokens/verify"), ("post", "/v1/profiles/m2p/message-hash"): return withBody
        case ("get", "/readyz"): return [503]
        case ("get", "/v1/templates"): return authenticated
        case ("put", "/v1/templates/{purpose}/{locale}/{channel}"): return withBody
        case ("get", "/v1/templates/{purpose}/{locale}/{channel}"), ("delete", "/v1/templates/{purpose}/{locale}/{channel}"):
            return authenticated.union([404, 422])
        case ("put", "/v1/webhook"): return withBody
        case ("get", "/v1/webhook"), ("delete", "/v1/webhook"): return authenticated.union([404])
        case ("get", "/v1/webhook/deliveries"): return authenticated.union([422])
        case ("get", "/v1/abuse/holds"): return authenticated
        case ("get", "/v1/audit"): return authenticated.union([422])
        case ("delete", "/v1/abuse/holds/{prefix}"): return authenticated.union([404, 422])
        case ("post", "/delivery-reports/{provider}"), ("post", "/delivery-reports/{provider}/{token}"): return [401, 404, 413, 500, 503]
        default: return []
        }
    }
}
