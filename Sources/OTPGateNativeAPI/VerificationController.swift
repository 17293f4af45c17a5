import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OTPGateCore

/// The native verification API: start, check, resend, cancel and read.
struct VerificationController: Sendable {
    let engine: VerificationEngine
    /// The outbox, read for each verification's delivery status.
    let deliveries: any VerificationQueries
    let defaultCountryCode: String

    func addRoutes(to group: RouterGroup<AppRequestContext>, routes: RouteTable) {
        routes.post(group, "/v1/verifications", use: start)
        routes.get(group, "/v1/verifications/{id}", use: show)
        routes.post(group, "/v1/verifications/{id}/check", use: check)
        routes.post(group, "/v1/verifications/{id}/resend", use: resend)
        routes.post(group, "/v1/verifications/{id}/cancel", use: cancel)
    }

    static let startFields: Set<String> = [
        "to", "to_email", "to_phone", "channel", "purpose", "code_length", "ttl_seconds", "max_attempts", "locale", "reference", "context",
        "fallback", "fallback_after_seconds", "client_ip", "client_fingerprint",
    ]

    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await JSONBody.read(request, context: context, allowed: Self.startFields)
        let idempotency = try idempotencyClaim(request, body: body)
        let policy = engine.policy(for: principal)
        let (destination, companion, fallback) = try destinations(body, policy: policy)
        let ttl = try body.int("ttl_seconds", in: Policy.ttlRange)
        let fallbackAfter = try body.int("fallback_after_seconds", in: Policy.fallbackAfterRange)
        if fallbackAfter != nil && fallback == nil { throw Problem.invalidField("fallback_after_seconds", "needs a fallback channel") }
        if fallback != nil && fallbackAfter ?? policy.fallbackAfterSeconds >= ttl ?? policy.defaultTTLSeconds {
            throw Problem.invalidField("fallback_after_seconds", "must be shorter than the code's lifetime (ttl_seconds)")
        }
        let start = StartRequest(
            destination: destination, purpose: try body.label("purpose"), codeLength: try body.int("code_length", in: Policy.codeLengthRange),
            ttlSeconds: ttl, maxAttempts: try body.int("max_attempts", in: Policy.maxAttemptsRange),
            locale: try body.locale("locale"), reference: try body.printable("reference", maxLength: 128),
            context: try body.object("context", maxBytes: 2048), companion: companion, fallback: fallback, fallbackAfterSeconds: fallbackAfter,
            client: try client(body))
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

    /// `to` on `channel`; with `channel: "dual"`, `to` is the phone number and `to_email` the email address, and one
    /// code goes to both. With `fallback: ["email"]` (or `["sms"]`), `to_email` (or `to_phone`) gets the same code
    /// when the first message fails or is not reported delivered in time; without `fallback`, the tenant's default
    /// chain applies to a start that names such a destination.
    private func destinations(_ body: JSONBody, policy: Policy) throws -> (Destination, companion: Destination?, fallback: Destination?) {
        guard let channelName = try body.string("channel", maxLength: 32) else { throw Problem.invalidField("channel", "is required") }
        let to = try body.requiredString("to", maxLength: 320)
        let requested = try body.channels("fallback", maxCount: 1)
        if channelName == "dual" {
            if requested?.isEmpty == false { throw Problem.invalidField("fallback", "is not for channel dual (the code goes to both at once)") }
            if try body.string("to_phone", maxLength: 64) != nil { throw Problem.invalidField("to_phone", "is not for channel dual (use to)") }
            return (
                try parse(to, .sms, field: "to"), try parse(try body.requiredString("to_email", maxLength: 320), .email, field: "to_email"), nil
            )
        }
        guard let channel = try body.channel("channel") else { throw Problem.invalidField("channel", "is required") }
        let destination = try parse(to, channel, field: "to")
        let other: (channel: OTPGateCore.Channel, field: String) = channel == .sms ? (.email, "to_email") : (.sms, "to_phone")
        let wrongField = channel == .sms ? "to_phone" : "to_email"
        if try body.string(wrongField, maxLength: 320) != nil {
            throw Problem.invalidField(wrongField, "is not for channel \(channel.rawValue) (to is its destination)")
        }
        if let requested, requested.contains(channel) { throw Problem.invalidField("fallback", "must name another channel than channel") }
        let alternate = try body.string(other.field, maxLength: 320).map { try parse($0, other.channel, field: other.field) }
        switch (requested, alternate) {
        case (let chain?, nil) where !chain.isEmpty: throw Problem.invalidField(other.field, "is required for fallback \(other.channel.rawValue)")
        case (let chain?, let alternate?):
            if chain.isEmpty { throw Problem.invalidField(other.field, "is only for channel dual or a fallback") }
            return (destination, nil, alternate)
        case (nil, let alternate?):
            guard policy.fallbackChannels.contains(other.channel) else {
                throw Problem.invalidField(other.field, "is only for channel dual or a fallback (\"fallback\": [\"\(other.channel.rawValue)\"])")
            }
            return (destination, nil, alternate)
        default: return (destination, nil, nil)
        }
    }

    /// The end user's address and device as the tenant's backend saw them, each counted against its own limit. The
    /// address is canonicalised (`::ffff:10.0.0.1` and `10.0.0.1` are one client).
    private func client(_ body: JSONBody) throws -> AbuseRules.Client? {
        let rawIP = try body.string("client_ip", maxLength: 64)
        let fingerprint = try body.printable("client_fingerprint", maxLength: 128)
        if let fingerprint, fingerprint.isEmpty { throw Problem.invalidField("client_fingerprint", "must not be empty") }
        guard rawIP != nil || fingerprint != nil else { return nil }
        var ip: String?
        if let rawIP {
            guard let address = try? SocketAddress(ipAddress: rawIP, port: 0), let text = address.ipAddress else {
                throw Problem.invalidField("client_ip", "must be an IPv4 or IPv6 address")
            }
            ip = text.hasPrefix("::ffff:") && text.contains(".") ? String(text.dropFirst(7)) : text
        }
        return AbuseRules.Client(ip: ip, fingerprint: fingerprint)
    }

    private func parse(_ raw: String, _ channel: OTPGateCore.Channel, field: String) throws -> Destination {
        do throws(DestinationError) {
            return try Destination.parse(raw, channel: channel, defaultCountryCode: defaultCountryCode)
        } catch {
            throw Problem.invalidField(field, error.reason)
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
        let messages = try await deliveries.outboxMessages(verificationID: v.id)
        return JSONResponse.make(.ok, VerificationView.render(v, now: engine.clock.now(), deliveries: messages))
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
                "channel": .string(VerificationView.channel(approval.verification)),
                "to": .string(approval.verification.maskedDestination),
                "token": .string(approval.token),
                "token_type": .string("JWT"),
                "token_expires_at": .string(approval.tokenExpiresAt.iso8601),
            ]))
    }

    @Sendable func resend(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await JSONBody.read(request, context: context, allowed: ["channel"])
        // A dual verification resends to both destinations; `dual` names no single channel.
        let channel = try body.string("channel", maxLength: 32) == "dual" ? nil : try body.channel("channel")
        let v = try await engine.resend(id: try id(context), channel: channel, principal: principal)
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
