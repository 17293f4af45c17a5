import HTTPTypes
import Hummingbird
import NIOCore
import OTPGateCore
import OTPGateObservability

/// Unauthenticated operational endpoints: liveness, readiness, the OpenAPI document and the JWKS. Metrics are on
/// their own listener (`MetricsListener`), never on the public port.
struct OpsController: Sendable {
    let store: any StoreLifecycle
    let signer: any TokenSigner
    let metrics: ServerMetrics

    func addRoutes(to router: Router<AppRequestContext>, routes: RouteTable) {
        routes.get(router, "/healthz", use: health)
        routes.get(router, "/readyz", use: ready)
        routes.get(router, "/openapi.json", use: openAPI)
        routes.get(router, "/openapi.yaml", use: openAPIYAML)
        routes.get(router, "/.well-known/jwks.json", use: jwks)
    }

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> Response {
        JSONResponse.make(.ok, .object(["status": .string("ok")]))
    }

    @Sendable func ready(_ request: Request, context: AppRequestContext) async throws -> Response {
        do {
            try await store.ping()
            return JSONResponse.make(.ok, .object(["status": .string("ready"), "database": .string("ok")]))
        } catch {
            return Problem(ProblemCatalog.unavailable, title: "Not ready", detail: "the database does not answer")
                .response(requestID: context.id)
        }
    }

    @Sendable func openAPI(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let json = OpenAPIDocument.json else { throw Problem.internalError }
        return JSONResponse.make(.ok, bytes: json)
    }

    @Sendable func openAPIYAML(_ request: Request, context: AppRequestContext) async throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.yaml)))
    }

    @Sendable func jwks(_ request: Request, context: AppRequestContext) async throws -> Response {
        var response = JSONResponse.make(.ok, bytes: try await signer.jwks())
        response.headers[.contentType] = "application/jwk-set+json"
        response.headers[.cacheControl] = "public, max-age=300"
        return response
    }
}
