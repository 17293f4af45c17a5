import Hummingbird
import OTPGateCore

/// `POST /bench/bare`: the benchmark's yardstick (`OTPGATE_BENCH_BARE_ROUTE`, off by default, refused in production).
/// It runs behind the same middleware as every route and reads and parses a start's body with the same JSON reader,
/// then answers a fixed small JSON, with no authentication, engine or store: what is left of a start's cost once the
/// HTTP server, the middleware and the body parser are paid for. `bench/run.sh` reports every workload as a ratio of it.
struct BareRouteController: Sendable {
    static let path = "/bench/bare"

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post(RouterPath(Self.path), use: bare)
    }

    @Sendable func bare(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await JSONBody.read(request, context: context, allowed: VerificationController.startFields)
        return JSONResponse.make(.ok, .object(["status": .string("ok"), "fields": .int(body.fields.count)]))
    }
}
