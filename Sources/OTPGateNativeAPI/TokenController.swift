import Hummingbird
import OTPGateCore

/// Token introspection for downstream services (RFC 7662 in spirit): is this token valid for me, now, for this purpose?
struct TokenController: Sendable {
    let engine: VerificationEngine

    func addRoutes(to group: RouterGroup<AppRequestContext>, routes: RouteTable) {
        routes.post(group, "/v1/tokens/verify", use: verify)
    }

    @Sendable func verify(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await JSONBody.read(request, context: context, allowed: ["token", "consume", "purpose"])
        let token = try body.requiredString("token", maxLength: 8192)
        let consume = try body.bool("consume") ?? false
        let purpose = try body.label("purpose")
        switch try await engine.verifyToken(token, consume: consume, purpose: purpose, principal: principal) {
        case .valid(let claims):
            return JSONResponse.make(.ok, .object(["valid": .bool(true), "consumed": .bool(consume), "claims": claims.json]))
        case .invalid(let rejection):
            return JSONResponse.make(.ok, .object(["valid": .bool(false), "reason": .string(rejection.rawValue)]))
        }
    }
}
