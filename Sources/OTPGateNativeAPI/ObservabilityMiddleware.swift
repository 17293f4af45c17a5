import HTTPTypes
import Hummingbird
import Logging
import OTPGateCore
import OTPGateObservability

/// The outermost middleware: gives each request an id, turns every error into a problem+json response
/// (`Problem.mapping`), and records one log line and the metrics for the final status.
struct ObservabilityMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    let metrics: ServerMetrics
    let profiles: [any CompatProfile]

    init(metrics: ServerMetrics, profiles: [any CompatProfile] = []) {
        self.metrics = metrics
        self.profiles = profiles
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let requestID = context.id
        var response: Response
        do {
            // The engine's audit entries name the request (`RequestScope`).
            response = try await RequestScope.$requestID.withValue(requestID) { try await next(request, context) }
        } catch {
            let path = request.uri.path
            if let profile = profiles.first(where: { p in p.pathPrefixes.contains { path.hasPrefix($0) } }) {
                response = profile.errorResponse(for: error, context: context)
            } else {
                response = Problem.mapping(error, logger: context.logger).response(requestID: requestID)
            }
        }
        response.headers[Self.requestIDHeader] = requestID
        let route = context.endpointPath ?? "unmatched"
        let duration = ContinuousClock.now - start
        metrics.recordRequest(route: route, method: request.method.rawValue, status: response.status.code, duration: duration)
        // The line's metadata is built only when the line is written (not at the `warning` level a busy server runs at).
        if context.logger.logLevel <= .info {
            var metadata: Logger.Metadata = [
                "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(response.status.code),
                "duration_ms": .stringConvertible(Double(duration.wholeMilliseconds)),
            ]
            if let tenantID = context.facts.tenantID { metadata["tenant_id"] = .string(tenantID) }
            context.logger.info("request", metadata: metadata)
        }
        return response
    }
}
