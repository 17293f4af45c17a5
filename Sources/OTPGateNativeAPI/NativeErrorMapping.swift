import Hummingbird
import Logging
public import OTPGateCore

/// The one place where engine refusals, storage failures and framework errors become the native wire format.
/// A vendor profile has a file like this one that maps the same errors to its own envelope.
extension Problem {
    /// The problem for any error a native route throws. Storage failures are logged and become 503; an unknown
    /// error is logged by type only (never its text, which may hold a value from the request) and becomes 500.
    static func mapping(_ error: any Error, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let refusal as VerificationError:
            return Problem(refusal)
        case let store as StoreError:
            logger.error("store unavailable", metadata: ["error": .string(store.description)])
            return Problem(ProblemCatalog.unavailable, detail: "the database is unavailable; retry shortly")
        case let http as HTTPError:
            switch http.status {
            // The router answers an unknown path, and a method a path does not serve, alike.
            case .notFound, .methodNotAllowed: return Problem.notFound
            case .contentTooLarge: return Problem(ProblemCatalog.payloadTooLarge, detail: "request bodies are limited to 64 KiB")
            default:
                logger.error("unhandled HTTP error", metadata: ["status": .stringConvertible(http.status.code)])
                return Problem.internalError
            }
        default:
            logger.error("unhandled error", metadata: ["error_type": .string(String(describing: type(of: error)))])
            return Problem.internalError
        }
    }

    /// The problem for an engine refusal.
    public init(_ error: VerificationError) {
        switch error {
        case .notFound:
            self.init(ProblemCatalog.notFound, title: "Verification not found", detail: "no verification with this id")
        case .incorrectCode(let remaining):
            self.init(ProblemCatalog.incorrectCode, detail: "the code does not match")
            extensions["attempts_remaining"] = .int(remaining)
        case .maxAttemptsReached:
            self.init(ProblemCatalog.maxAttemptsReached, detail: "this verification allows no more checks; start a new one")
        case .expired:
            self.init(ProblemCatalog.expired, detail: "the code has expired; start a new verification")
        case .alreadyApproved:
            self.init(ProblemCatalog.alreadyApproved, detail: "this verification was already approved")
        case .canceled:
            self.init(ProblemCatalog.canceled, detail: "this verification was canceled")
        case .resendCooldown(let retryAfter):
            self.init(ProblemCatalog.resendCooldown, detail: "wait before sending another code")
            self.retryAfter = retryAfter
        case .maxSendsReached:
            self.init(ProblemCatalog.maxSendsReached, detail: "this verification has sent its maximum number of codes")
        case .destinationRateLimited(let retryAfter):
            self.init(ProblemCatalog.rateLimited, detail: "too many verifications to this destination")
            self.retryAfter = retryAfter
            extensions["scope"] = .string("destination")
        case .destinationLocked(let retryAfter):
            self.init(ProblemCatalog.destinationLocked, detail: "too many failed checks for this destination")
            self.retryAfter = retryAfter
        case .keyRateLimited(let retryAfter):
            self.init(ProblemCatalog.rateLimited, detail: "too many requests for this API key")
            self.retryAfter = retryAfter
            extensions["scope"] = .string("api_key")
        case .idempotencyKeyReused:
            self.init(ProblemCatalog.idempotencyKeyReused, detail: "this Idempotency-Key was used with a different request in the last 24 hours")
        case .channelMismatch:
            self.init(ProblemCatalog.invalidField, detail: "channel cannot deliver to this verification's destination", field: "channel")
        case .channelUnavailable(let channel):
            self.init(ProblemCatalog.channelUnavailable, detail: "no delivery provider serves the \(channel.rawValue) channel on this server")
            extensions["channel"] = .string(channel.rawValue)
        case .destinationNotAllowed:
            self.init(ProblemCatalog.destinationNotAllowed, detail: "this tenant may not send codes to this country", field: "to")
        case .testDestinationNotAllowed:
            self.init(
                ProblemCatalog.destinationNotAllowed, detail: "this is one of the tenant's test destinations, not allowed in production", field: "to")
        case .clientRateLimited(let retryAfter):
            self.init(ProblemCatalog.clientRateLimited, detail: "too many verifications from this client")
            self.retryAfter = retryAfter
        case .suspectedPumping(let retryAfter):
            self.init(
                ProblemCatalog.suspectedPumping,
                detail: "too many unanswered codes to numbers like this one; starts to them are held for a while (GET /v1/abuse/holds)")
            self.retryAfter = retryAfter
        case .budgetExhausted(let retryAfter):
            self.init(ProblemCatalog.budgetExhausted, detail: "this tenant's send budget for the channel is spent until the period ends")
            self.retryAfter = retryAfter
        }
    }
}
