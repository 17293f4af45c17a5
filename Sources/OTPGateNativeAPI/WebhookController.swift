import HTTPTypes
import Hummingbird
import OTPGateCore

/// A tenant's webhook endpoint and what became of its events: `PUT`, `GET` and `DELETE /v1/webhook`, and
/// `GET /v1/webhook/deliveries`. The signing secret is shown once, when the endpoint is created or its secret rotated.
struct WebhookController: Sendable {
    let engine: VerificationEngine
    let store: any WebhookStore
    /// `http` URLs are refused in production.
    let allowHTTP: Bool

    func addRoutes(to group: RouterGroup<AppRequestContext>, routes: RouteTable) {
        routes.add(.put, group, "/v1/webhook", save)
        routes.get(group, "/v1/webhook", use: show)
        routes.add(.delete, group, "/v1/webhook", delete)
        routes.get(group, "/v1/webhook/deliveries", use: deliveries)
    }

    static let fields: Set<String> = ["url", "events", "rotate_secret"]

    @Sendable func save(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await JSONBody.read(request, context: context, allowed: Self.fields)
        try await engine.countRequest(principal: principal)
        let rawURL = try body.requiredString("url", maxLength: 2048)
        let names = try body.strings("events", maxCount: WebhookEventType.allCases.count)
        let url: String
        let events: Set<WebhookEventType>
        do throws(FieldRefusal) {
            url = try WebhookRules.validatedURL(rawURL, allowHTTP: allowHTTP)
            events = try WebhookRules.events(names)
        } catch {
            throw Problem.invalidField(error.field, error.reason)
        }
        let existing = try await store.webhookEndpoint(tenantID: principal.tenant.id)
        let (endpoint, secret) = try WebhookRules.endpoint(
            tenantID: principal.tenant.id, url: url, events: events, existing: existing, rotate: try body.bool("rotate_secret") ?? false,
            cipher: engine.cipher, random: engine.random, now: engine.clock.now())
        let replacing = existing != nil && secret != nil
        let stored = try await store.saveWebhookEndpoint(
            endpoint, replacingSecret: replacing,
            audit: engine.auditActor(principal)?.webhookSaved(endpoint, secretReplaced: replacing, at: endpoint.updatedAt))
        var view = Self.view(stored)
        // Shown only if it is the one stored (a concurrent save may have won the insert).
        let ours = secret != nil && stored.sealedSecret == endpoint.sealedSecret
        if ours, let secret { view["secret"] = .string(secret) }
        return JSONResponse.make(existing == nil && ours ? .created : .ok, .object(view))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try await engine.countRequest(principal: principal)
        guard let endpoint = try await store.webhookEndpoint(tenantID: principal.tenant.id) else {
            throw Problem(ProblemCatalog.notFound, detail: "this tenant has no webhook endpoint")
        }
        return JSONResponse.make(.ok, .object(Self.view(endpoint)))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try await engine.countRequest(principal: principal)
        let audit = engine.auditActor(principal)?.entry(
            AuditAction.webhookDeleted, tenantID: principal.tenant.id, subject: principal.tenant.id, at: engine.clock.now())
        guard try await store.deleteWebhookEndpoint(tenantID: principal.tenant.id, audit: audit) else {
            throw Problem(ProblemCatalog.notFound, detail: "this tenant has no webhook endpoint")
        }
        return Response(status: .noContent)
    }

    /// The tenant's latest events (at most `limit`, default 50, up to 200), newest first.
    @Sendable func deliveries(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var limit = 50
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(String(text)), (1...200).contains(value) else {
                throw Problem.invalidField("limit", "must be an integer from 1 to 200")
            }
            limit = value
        }
        try await engine.countRequest(principal: principal)
        let events = try await store.webhookEvents(tenantID: principal.tenant.id, limit: limit)
        return JSONResponse.make(.ok, .object(["deliveries": .array(events.map(Self.view))]))
    }

    static func view(_ e: WebhookEndpoint) -> [String: JSONValue] {
        [
            "url": .string(e.url), "events": .array(e.events.sorted().map { .string($0.rawValue) }), "created_at": .string(e.createdAt.iso8601),
            "updated_at": .string(e.updatedAt.iso8601),
        ]
    }

    /// One event: `queued` (waiting, being sent or retried), `delivered` or `failed`, with the receiver's last answer.
    static func view(_ e: WebhookEvent) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(e.id), "type": .string(e.type.rawValue),
            "status": .string(e.state == .delivered ? "delivered" : e.state == .failed ? "failed" : "queued"), "attempts": .int(e.attempts),
            "created_at": .string(e.createdAt.iso8601),
        ]
        if !e.verificationID.isEmpty { o["verification_id"] = .string(e.verificationID) }
        o["message_id"] = e.messageID.map(JSONValue.string)
        o["last_status"] = e.lastStatus.map { .int($0) }
        o["error"] = e.lastError.map(JSONValue.string)
        o["finished_at"] = e.finishedAt.map { .string($0.iso8601) }
        if e.state == .pending { o["next_attempt_at"] = .string(e.nextAttemptAt.iso8601) }
        return .object(o)
    }
}
