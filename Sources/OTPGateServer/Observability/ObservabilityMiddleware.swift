import Hummingbird
import Logging
import OTPGateCore

/// The outermost middleware: gives each request an id, turns every error into a problem+json response,
/// and records one log line and the metrics for the final status. Unknown errors become a 500 problem and an
/// error log; storage failures become 503 `unavailable`.
struct ObservabilityMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let requestID = context.id
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Self.problem(for: error, logger: context.logger).response(requestID: requestID)
        }
        response.headers[.init("X-Request-Id")!] = requestID
        let route = context.endpointPath ?? "unmatched"
        let duration = ContinuousClock.now - start
        metrics.recordRequest(route: route, method: request.method.rawValue, status: response.status.code, duration: duration)
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(response.status.code),
                "duration_ms": .stringConvertible(Double(duration.wholeMilliseconds)),
            ])
        return response
    }

    static func problem(for error: any Error, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let refusal as VerificationError:
            return Problem(refusal)
        case let store as StoreError:
            logger.error("store unavailable", metadata: ["error": .string(store.description)])
            return Problem(status: .serviceUnavailable, code: "unavailable", title: "Service unavailable",
                           detail: "the database is unavailable; retry shortly")
        case let http as HTTPError:
            switch http.status {
            case .notFound: return Problem.notFound
            case .methodNotAllowed:
                return Problem(status: .methodNotAllowed, code: "method_not_allowed", title: "Method not allowed", detail: "this route does not accept this method")
            case .contentTooLarge:
                return Problem(status: .contentTooLarge, code: "payload_too_large", title: "Payload too large", detail: "request bodies are limited to 64 KiB")
            default:
                return Problem(status: http.status, code: "http_error", title: http.status.reasonPhrase, detail: http.status.reasonPhrase)
            }
        default:
            logger.error("unhandled error", metadata: ["error_type": .string(String(describing: type(of: error)))])
            return Problem(status: .internalServerError, code: "internal", title: "Internal error", detail: "an unexpected error occurred")
        }
    }
}
