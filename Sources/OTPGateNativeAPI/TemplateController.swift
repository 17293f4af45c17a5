import HTTPTypes
import Hummingbird
import OTPGateCore

/// A tenant's message templates: `PUT`, `GET` and `DELETE /v1/templates/{purpose}/{locale}/{channel}`, and
/// `GET /v1/templates`. A template is saved only if it parses and contains the code (`TemplateRules`); each answer
/// shows what a person would receive, with its SMS encoding and segment count.
struct TemplateController: Sendable {
    let engine: VerificationEngine
    let store: any TemplateStore
    let brand: String

    func addRoutes(to group: RouterGroup<AppRequestContext>, routes: RouteTable) {
        routes.get(group, "/v1/templates", use: list)
        routes.add(.put, group, "/v1/templates/{purpose}/{locale}/{channel}", save)
        routes.get(group, "/v1/templates/{purpose}/{locale}/{channel}", use: show)
        routes.add(.delete, group, "/v1/templates/{purpose}/{locale}/{channel}", delete)
    }

    static let fields: Set<String> = ["body", "subject", "html", "dlt_template_id", "webotp_domain", "android_app_hash"]

    @Sendable func save(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let key = try key(context)
        let body = try await JSONBody.read(request, context: context, allowed: Self.fields)
        try await engine.countRequest(principal: principal)
        let template = MessageTemplate(
            tenantID: principal.tenant.id, purpose: key.purpose, locale: key.locale, channel: key.channel,
            body: try body.requiredString("body", maxLength: 20_000), subject: try body.string("subject", maxLength: 1000),
            html: try body.string("html", maxLength: 60_000), dltTemplateID: try body.string("dlt_template_id", maxLength: 64),
            webOTPDomain: try body.string("webotp_domain", maxLength: 253), androidAppHash: try body.string("android_app_hash", maxLength: 64),
            updatedAt: engine.clock.now())
        let valid: MessageTemplate
        do throws(TemplateError) {
            valid = try TemplateRules.validated(template)
        } catch {
            throw Problem.invalidField(error.field, error.reason)
        }
        try await store.saveTemplate(
            valid,
            audit: engine.auditActor(principal)?.entry(
                AuditAction.templateSaved, tenantID: valid.tenantID, subject: AuditAction.templateSubject(valid), at: valid.updatedAt))
        return JSONResponse.make(.ok, view(valid))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let key = try key(context)
        try await engine.countRequest(principal: principal)
        guard
            let template = try await store.templates(tenantID: principal.tenant.id).first(where: {
                $0.purpose == key.purpose && $0.locale == key.locale && $0.channel == key.channel
            })
        else { throw Problem(ProblemCatalog.notFound, detail: "no template for this purpose, locale and channel") }
        return JSONResponse.make(.ok, view(template))
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try await engine.countRequest(principal: principal)
        let templates = try await store.templates(tenantID: principal.tenant.id)
        return JSONResponse.make(.ok, .object(["templates": .array(templates.map(view))]))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let key = try key(context)
        try await engine.countRequest(principal: principal)
        let audit = engine.auditActor(principal)?.entry(
            AuditAction.templateDeleted, tenantID: principal.tenant.id,
            subject: AuditAction.templateSubject(purpose: key.purpose, locale: key.locale, channel: key.channel), at: engine.clock.now())
        guard
            try await store.deleteTemplate(
                tenantID: principal.tenant.id, purpose: key.purpose, locale: key.locale, channel: key.channel, audit: audit)
        else {
            throw Problem(ProblemCatalog.notFound, detail: "no template for this purpose, locale and channel")
        }
        return Response(status: .noContent)
    }

    private func key(_ context: AppRequestContext) throws -> (purpose: String, locale: String, channel: OTPGateCore.Channel) {
        let purpose = context.parameters.get("purpose") ?? ""
        let locale = context.parameters.get("locale") ?? ""
        guard TemplateRules.isValidPurpose(purpose) else { throw Problem.invalidField("purpose", "must be 1 to 64 letters, digits or _ . : -") }
        guard TemplateRules.isValidLocale(locale) else { throw Problem.invalidField("locale", "must be \(TemplateRules.locales)") }
        guard let channel = OTPGateCore.Channel(rawValue: context.parameters.get("channel") ?? "") else {
            throw Problem.invalidField("channel", "must be sms or email")
        }
        return (purpose, locale, channel)
    }

    private func view(_ t: MessageTemplate) -> JSONValue {
        var o: [String: JSONValue] = [
            "purpose": .string(t.purpose), "locale": .string(t.locale), "channel": .string(t.channel.rawValue), "body": .string(t.body),
            "updated_at": .string(t.updatedAt.iso8601),
        ]
        o["subject"] = t.subject.map(JSONValue.string)
        o["html"] = t.html.map(JSONValue.string)
        o["dlt_template_id"] = t.dltTemplateID.map(JSONValue.string)
        o["webotp_domain"] = t.webOTPDomain.map(JSONValue.string)
        o["android_app_hash"] = t.androidAppHash.map(JSONValue.string)
        if let preview = TemplateRules.preview(t, brand: brand) {
            var p: [String: JSONValue] = ["text": .string(preview.text)]
            if t.channel == .sms {
                p["encoding"] = .string(preview.encoding.rawValue)
                p["segments"] = .int(preview.segments)
            }
            o["preview"] = .object(p)
        }
        return .object(o)
    }
}
