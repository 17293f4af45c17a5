import HTTPTypes
import Hummingbird
import OTPGateCore

/// The conversion guard's holds on the tenant's number prefixes: `GET /v1/abuse/holds` lists those in force, and
/// `DELETE /v1/abuse/holds/{prefix}` ends one early once someone has looked at the traffic.
struct AbuseController: Sendable {
    let engine: VerificationEngine

    func addRoutes(to group: RouterGroup<AppRequestContext>, routes: RouteTable) {
        routes.get(group, "/v1/abuse/holds", use: list)
        routes.add(.delete, group, "/v1/abuse/holds/{prefix}", release)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try await engine.countRequest(principal: principal)
        let holds = try await engine.store.abuseHolds(tenantID: principal.tenant.id, now: engine.clock.now())
        return JSONResponse.make(.ok, .object(["holds": .array(holds.map(\.json))]))
    }

    @Sendable func release(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        guard let prefix = Self.prefix(context.parameters.get("prefix") ?? "") else {
            throw Problem.invalidField("prefix", "must be a number prefix as GET /v1/abuse/holds lists it, e.g. +9170")
        }
        try await engine.countRequest(principal: principal)
        let (tenantID, now) = (principal.tenant.id, engine.clock.now())
        guard
            try await engine.store.releaseAbuseHold(
                tenantID: tenantID, prefix: prefix, now: now,
                audit: engine.auditActor(principal)?.holdReleased(tenantID: tenantID, prefix: prefix, at: now))
        else {
            throw Problem(ProblemCatalog.notFound, detail: "no hold in force on this prefix")
        }
        return Response(status: .noContent)
    }

    /// `+9170`, `%2B9170` or `9170`: 3 to 6 digits after an optional `+`.
    static func prefix(_ text: String) -> String? {
        let digits = text.hasPrefix("+") ? text.dropFirst() : text.uppercased().hasPrefix("%2B") ? text.dropFirst(3) : Substring(text)
        guard (3...6).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return "+" + digits
    }
}
