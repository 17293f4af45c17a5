import HTTPTypes
import Hummingbird
import OTPGateCore

/// `GET /v1/audit`: the tenant's chained audit entries in chain order, a page at a time (`after` is the last `seq`
/// seen). Chain order is final, so paging never skips an entry that committed late.
struct AuditController: Sendable {
    let engine: VerificationEngine
    let store: any AuditStore

    func addRoutes(to group: RouterGroup<AppRequestContext>, routes: RouteTable) {
        routes.get(group, "/v1/audit", use: list)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var limit = 100
        var after: Int64 = 0
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(String(text)), (1...500).contains(value) else {
                throw Problem.invalidField("limit", "must be an integer from 1 to 500")
            }
            limit = value
        }
        if let text = request.uri.queryParameters["after"] {
            guard let value = Int64(String(text)), value >= 0 else { throw Problem.invalidField("after", "must be the seq of an entry (0 or more)") }
            after = value
        }
        try await engine.countRequest(principal: principal)
        let entries = try await store.auditEntries(tenantID: principal.tenant.id, afterSeq: after, limit: limit)
        var page: [String: JSONValue] = ["entries": .array(entries.map(Self.view))]
        if entries.count == limit, let seq = entries.last?.seq { page["next_after"] = .int(Int(seq)) }
        return JSONResponse.make(.ok, .object(page))
    }

    static func view(_ e: AuditEntry) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .int(Int(e.id)), "at": .string(e.at.iso8601), "action": .string(e.action), "actor": .string(e.actor),
            "subject": .string(e.subject),
        ]
        o["masked_destination"] = e.masked.map(JSONValue.string)
        o["request_id"] = e.requestID.map(JSONValue.string)
        if let detail = e.detail, let parsed = try? JSONParser.parse(Array(detail.utf8)) { o["detail"] = parsed }
        o["seq"] = e.seq.map { .int(Int($0)) }
        return .object(o)
    }
}
