import Foundation
import HTTPTypes
import Hummingbird
import OTPGateCore

/// The native verification API: start, check, resend, cancel and read.
struct VerificationController: Sendable {
    let engine: VerificationEngine
    let defaultCountryCode: String

    func addRoutes(to group: RouterGroup<AppRequestContext>, routes: RouteTable) {
        routes.post(group, "/v1/verifications", use: start)
        routes.get(group, "/v1/verifications/{id}", use: show)
        routes.post(group, "/v1/verifications/{id}/check", use: check)
        routes.post(group, "/v1/verifications/{id}/resend", use: resend)
        routes.post(group, "/v1/verifications/{id}/cancel", use: cancel)
    }

    static let startFields: Set<String> = [
        "to", "channel", "purpose", "code_length", "ttl_seconds", "max_attempts", "locale", "reference", "context",
    ]

    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await JSONBody.read(request, context: context, allowed: Self.startFields)
        let idempotency = try idempotencyClaim(request, body: body)
        guard let channel = try body.channel("channel") else { throw Problem.invalidField("channel", "is required") }
        let to = try body.requiredString("to", maxLength: 320)
        let destination: Destination
        do throws(DestinationError) {
            destination = try Destination.parse(to, channel: channel, defaultCountryCode: defaultCountryCode)
        } catch {
            throw Problem.invalidField("to", error.reason)
        }
        let start = StartRequest(
            destination: destination, purpose: try body.label("purpose"), codeLength: try body.int("code_length", in: Policy.codeLengthRange),
            ttlSeconds: try body.int("ttl_seconds", in: Policy.ttlRange), maxAttempts: try body.int("max_attempts", in: Policy.maxAttemptsRange),
            locale: try body.locale("locale"), reference: try body.printable("reference", maxLength: 128),
            context: try body.object("context", maxBytes: 2048))
        let result = try await engine.start(start, principal: principal, idempotency: idempotency)
        let now = engine.clock.now()
        switch result {
        case .created(let v):
            return JSONResponse.make(.created, VerificationView.render(v, now: now), headers: [.location: "/v1/verifications/\(v.id)"])
        case .replayed(let v):
            var headers: HTTPFields = [.location: "/v1/verifications/\(v.id)"]
            headers[HTTPField.Name("Idempotent-Replayed")!] = "true"
            return JSONResponse.make(.created, VerificationView.render(v, now: v.createdAt), headers: headers)
        }
    }

    private func idempotencyClaim(_ request: Request, body: JSONBody) throws -> IdempotencyClaim? {
        guard let key = request.headers[HTTPField.Name("Idempotency-Key")!] else { return nil }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw Problem(
                ProblemCatalog.invalidHeader,
                detail: "Idempotency-Key must be 1 to 255 visible ASCII characters", field: "Idempotency-Key")
        }
        return IdempotencyClaim(key: key, requestHash: engine.cipher.requestDigest(Array("POST /v1/verifications\n".utf8) + body.raw))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let v = try await engine.verification(id: try id(context), principal: principal)
        return JSONResponse.make(.ok, VerificationView.render(v, now: engine.clock.now()))
    }

    @Sendable func check(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await JSONBody.read(request, context: context, allowed: ["code"])
        let code = try body.requiredString("code", maxLength: 16)
        guard (4...10).contains(code.count), code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw Problem.invalidField("code", "must be a string of 4 to 10 digits")
        }
        let approval = try await engine.check(id: try id(context), code: code, principal: principal)
        return JSONResponse.make(
            .ok,
            .object([
                "id": .string(approval.verification.id),
                "status": .string("approved"),
                "channel": .string(approval.verification.channel.rawValue),
                "to": .string(approval.verification.maskedDestination),
                "token": .string(approval.token),
                "token_type": .string("JWT"),
                "token_expires_at": .string(approval.tokenExpiresAt.iso8601),
            ]))
    }

    @Sendable func resend(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await JSONBody.read(request, context: context, allowed: ["channel"])
        let v = try await engine.resend(id: try id(context), channel: try body.channel("channel"), principal: principal)
        return JSONResponse.make(.ok, VerificationView.render(v, now: engine.clock.now()))
    }

    @Sendable func cancel(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try await JSONBody.read(request, context: context, allowed: [])
        let v = try await engine.cancel(id: try id(context), principal: principal)
        return JSONResponse.make(.ok, VerificationView.render(v, now: engine.clock.now()))
    }

    private func id(_ context: AppRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), id.utf8.count <= 64 else { throw Problem(VerificationError.notFound) }
        return id
    }
}
