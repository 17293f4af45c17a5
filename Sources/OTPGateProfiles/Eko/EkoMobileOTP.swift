import Hummingbird
import OTPGateCore
import OTPGateNativeAPI

/// Eko's mobile OTP: send, verify (with a signed `otp_verification_token`), validate-token (docs/compat/eko.md).
///
/// One OTP per initiator and mobile: a session keyed by a blind index of the two holds the pending verification. A
/// second send while it is pending is the engine's resend (a new code, the old one stops working; inside the cooldown it
/// is refused with 429 and how long to wait); once it was verified, spent or expired, a send starts a new one. A verify
/// finds the OTP by initiator and mobile, so a client may repeat the send's `client_ref_id`, send a fresh one on every
/// call, or none; the verify's own `client_ref_id` is echoed (the send's when it has none).
struct EkoMobileOTP {
    let services: ProfileServices
    var flow: ProfileFlow { ProfileFlow(services: services, profile: "eko") }

    /// The proof token's lifetime, as Eko documents it.
    static let tokenLifetime: Duration = .seconds(300)
    static let tokenAudience = "otpgate:eko"
    static let purpose = "mobile_verification"

    func send(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let params = try await EkoParams.read(request, context: context)
        let initiator = try initiator(params, principal)
        _ = try params.string("csp_id")
        let mobile = try params.mobile()
        let ref = try params.clientRefID()
        var data: [String: JSONValue] = [:]
        data["client_ref_id"] = ref.map(JSONValue.string)
        let id = sessionID(initiator: initiator, mobile: mobile, tenantID: principal.tenant.id)
        let destination = Destination(unchecked: "+91" + mobile, channel: .sms)
        let sent: SessionOTP.Sent
        do {
            sent = try await replayGuarded {
                switch try await flow.subjectSession(
                    id: id, kind: "mobile", recordID: "", principal: principal, data: data, nonce: context.requestNonce)
                {
                case .live(let session):
                    return try await flow.otp.send(
                        session: session, to: destination, purpose: Self.purpose, principal: principal, sealedData: try flow.seal(data, for: session),
                        started: true)
                case .fresh(let session, let binding):
                    do {
                        // The first send of a new OTP: the session, the verification and its message in one transaction.
                        return try await flow.otp.send(
                            session: session, to: destination, purpose: Self.purpose, principal: principal, binding: binding)
                    } catch SessionBindingError.sessionChanged {
                        // A concurrent send restarted it first: this one is a send on its session.
                        guard let current = try await flow.session(id, kinds: ["mobile"], principal: principal) else {
                            throw VerificationError.resendCooldown(retryAfter: .seconds(1))
                        }
                        try await flow.claim(context.requestNonce)
                        return try await flow.otp.send(
                            session: current, to: destination, purpose: Self.purpose, principal: principal,
                            sealedData: try flow.seal(data, for: current), started: true)
                    }
                }
            }
        } catch let refusal as VerificationError {
            throw EkoReply.sendRefusal(refusal)
        }
        var reply: [String: JSONValue] = [
            "initiator_id": .string(initiator), "otp_expiry_timestamp": .string(JavaDate.ist(sent.verification.expiresAt)), "tid": .string(tid()),
        ]
        reply["client_ref_id"] = ref.map(JSONValue.string)
        return EkoReply.success(typeID: EkoReply.TypeID.otpSent, "OTP has been sent", data: reply).response
    }

    func verify(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let params = try await EkoParams.read(request, context: context)
        let initiator = try initiator(params, principal)
        let code = try params.otp()
        let mobile = try params.mobile()
        let ref = try params.clientRefID()
        try await replayGuarded { try await flow.claim(context.requestNonce) }
        guard
            let session = try await flow.session(
                sessionID(initiator: initiator, mobile: mobile, tenantID: principal.tenant.id), kinds: ["mobile"], principal: principal)
        else {
            try await services.engine.countRequest(principal: principal)
            throw EkoReply.verificationFailed
        }
        do {
            _ = try await flow.otp.check(session: session, code: code, principal: principal)
        } catch let refusal as VerificationError {
            throw EkoReply.checkRefusal(refusal)
        }
        let sentRef: String? = if case .string(let s)? = try flow.data(of: session)["client_ref_id"] { s } else { nil }
        let tid = tid()
        let now = services.now
        let token = try await services.engine.signer.signProfileToken(
            [
                "iss": .string(services.engine.issuer), "aud": .string(Self.tokenAudience),
                "jti": .string(Identifier.make("tok", random: services.random)),
                "tenant_id": .string(principal.tenant.id), "initiator_id": .string(initiator), "mobile": .string(mobile), "tid": .string(tid),
                "iat": .int(now.seconds), "exp": .int((now + Self.tokenLifetime).seconds),
            ], typ: "JWT")
        var data: [String: JSONValue] = [
            "otp_verification_token": .string(token), "initiator_id": .string(initiator), "mobile": .string(mobile), "tid": .string(tid),
        ]
        data["client_ref_id"] = (ref ?? sentRef).map(JSONValue.string)
        return EkoReply.success(typeID: EkoReply.TypeID.otpVerification, "OTP verification successful.", data: data).response
    }

    func validateToken(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let params = try await EkoParams.read(request, context: context)
        let initiator = try initiator(params, principal)
        let token = try params.string("otp_verification_token")
        let ref = try params.clientRefID()
        try await replayGuarded { try await flow.claim(context.requestNonce) }
        try await services.engine.countRequest(principal: principal)
        let invalid = EkoReply.failure(typeID: EkoReply.TypeID.tokenRejected, "The OTP verification token is invalid.", data: nil)
        guard case .success(let claims) = await services.engine.signer.verifyProfileToken(token, typ: "JWT", audience: Self.tokenAudience),
            claims["tenant_id"] == .string(principal.tenant.id), claims["initiator_id"] == .string(initiator),
            case .string(let mobile)? = claims["mobile"], case .string(let tid)? = claims["tid"], case .number(let exp)? = claims["exp"],
            let expires = exp.int64Value
        else { throw invalid }
        guard services.now.seconds < expires else {
            throw EkoReply.failure(typeID: EkoReply.TypeID.tokenRejected, "The OTP verification token has timed out.", data: nil)
        }
        var data: [String: JSONValue] = [
            "otp_verification_token": .string(token), "initiator_id": .string(initiator), "mobile": .string(mobile), "tid": .string(tid),
        ]
        data["client_ref_id"] = ref.map(JSONValue.string)
        return EkoReply.success(typeID: EkoReply.TypeID.tokenValid, "OTP verification token is valid.", data: data).response
    }

    /// Runs the step that records the request's replay-guard entry; a replay is Eko's 403.
    private func replayGuarded<T>(_ step: () async throws -> T) async throws -> T {
        do {
            return try await step()
        } catch SessionBindingError.replayed {
            throw EkoReply.forbidden(2485, "this signed request was already received (replay)")
        }
    }

    /// `initiator_id`, which must be the mobile registered with the credential.
    private func initiator(_ params: EkoParams, _ principal: Principal) throws -> String {
        let initiator = try params.string("initiator_id")
        let settings = try CredentialSettings(opening: principal.sealedSettings, with: services.engine.cipher, credentialID: principal.keyID)
        guard initiator == settings.initiatorID else { throw EkoReply.invalidInitiator }
        return initiator
    }

    func sessionID(initiator: String, mobile: String, tenantID: String) -> String {
        "eko_"
            + services.records.blindIndex(tenantID: tenantID, kind: "eko-mobile", value: initiator + ":" + mobile)
            .dropFirst(PersonalDataCipher.indexPrefix.count)
    }

    /// A transaction id in Eko's form: ten digits.
    private func tid() -> String {
        let bytes = services.random.bytes(8)
        let value = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return String(1_000_000_000 + value % 9_000_000_000)
    }
}

/// Java's `Date.toString()` in India Standard Time, as Eko writes `otp_expiry_timestamp`: `Fri May 22 16:04:04 IST 2026`.
enum JavaDate {
    static func ist(_ time: Timestamp) -> String {
        let seconds = time.seconds + 19_800  // UTC+05:30
        let days = Int64((Double(seconds) / 86_400).rounded(.down))
        let second = seconds - days * 86_400
        let (year, month, day) = civil(days)
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekday) \(months[Int(month) - 1]) \(two(day)) \(two(second / 3600)):\(two(second % 3600 / 60)):\(two(second % 60)) IST \(year)"
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func civil(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
