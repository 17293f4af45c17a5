import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import OTPGateCore
import OTPGateNativeAPI

/// KwikID ITR: get_otp (PAN and portal password; the OTP to the contact on file) → submit_otp (an OTPGate extension:
/// the OTP for the `AccessToken`) → get_data / get_data_by_assessment_year → logout. One session per PAN and tenant;
/// a new get_otp resends a pending OTP, or starts over once the last one is verified, expired or spent.
struct KwikIDITR {
    let services: ProfileServices
    var flow: ProfileFlow { ProfileFlow(services: services, profile: "kwikid") }
    static let accessTokenHeader = HTTPField.Name("AccessToken")!

    /// The session id of a PAN: its blind index, so the id says nothing about the PAN.
    func sessionID(pan: String, tenantID: String) -> String {
        "kwk_" + services.records.blindIndex(tenantID: tenantID, kind: "kwikid-session", value: pan).dropFirst(PersonalDataCipher.indexPrefix.count)
    }

    func getOTP(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let pan = try body.pan("pan")
        let password = try body.string("password")
        try await services.engine.countRequest(principal: principal)
        let invalid = KwikIDReply.badRequest("Invalid PAN or password")
        guard let found = try await services.records.find(tenantID: principal.tenant.id, kind: .itr, lookup: RecordLookup.make("pan", pan)),
            let hash = found.record.passwordHash
        else {
            _ = try await services.passwords.verify(password, against: SurepassITR.decoyHash)
            throw invalid
        }
        guard try await services.passwords.verify(password, against: hash) else { throw invalid }
        guard let destination = ProfileFlow.contact(of: found.record) else { throw KwikIDReply.badRequest("No contact on file for this PAN") }
        let id = sessionID(pan: pan, tenantID: principal.tenant.id)
        let stored = try await services.sessions.session(id: id, tenantID: principal.tenant.id)
        var session = SessionDecider.isLive(stored, profile: "kwikid", kinds: ["itr"], now: services.now)
        let pending = try await session.asyncMap { try await flow.otp.current(session: $0, principal: principal) } ?? nil
        // The session goes on while its OTP is pending; a verified, spent or expired one starts over with a new OTP.
        if session == nil || pending?.state != .pending {
            let now = services.now
            let fresh = ProfileSession(
                id: id, tenantID: principal.tenant.id, profile: "kwikid", kind: "itr", recordID: found.id,
                verificationID: services.engine.plannedID(), createdAt: now, expiresAt: now + services.sessionLifetime)
            // Of concurrent restarts one wins; the others go on with its session (their send is a resend).
            session =
                try await services.sessions.replaceSession(fresh, expected: stored?.verificationID)
                ? fresh : try await flow.session(id, kinds: ["itr"], principal: principal)
        }
        guard let session else { throw KwikIDReply.sessionNotFound }
        let sent: SessionOTP.Sent
        do {
            sent = try await flow.otp.send(session: session, to: destination, purpose: "itr_login", principal: principal)
        } catch let refusal as VerificationError {
            throw KwikIDReply.sendRefusal(refusal)
        }
        let status = if case .resent = sent { "OTP resent" } else { "OTP sent" }
        return KwikIDReply.ok(["otp_status": .string(status)]).response
    }

    /// Checks the OTP and issues the session's `AccessToken` (`<session id>.<secret>`; only its hash is kept).
    func submitOTP(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let pan = try body.pan("pan")
        let code = try body.otp()
        guard let session = try await flow.session(sessionID(pan: pan, tenantID: principal.tenant.id), kinds: ["itr"], principal: principal) else {
            throw KwikIDReply.sessionNotFound
        }
        let v = try await check(session, code: code, principal: principal)
        let token = try await issueToken(session, verification: v)
        return KwikIDReply.ok(["otp_status": .string("verified"), "AccessToken": .string(token)]).response
    }

    private func check(_ session: ProfileSession, code: String, principal: Principal) async throws -> Verification {
        do {
            return try await flow.otp.check(session: session, code: code, principal: principal)
        } catch let refusal as VerificationError {
            throw KwikIDReply.checkRefusal(refusal)
        }
    }

    /// Stores a new access token's hash on the session (replacing an earlier one) and returns the token.
    private func issueToken(_ session: ProfileSession, verification v: Verification) async throws -> String {
        let secret = services.random.bytes(32)
        let token =
            session.id + "."
            + Data(secret).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        var data = try flow.data(of: session)
        data["access_token_hash"] = .string(Self.digest(token))
        _ = try await services.sessions.attachVerification(
            sessionID: session.id, tenantID: session.tenantID, expected: v.id, verificationID: v.id, sealedData: try flow.seal(data, for: session))
        return token
    }

    static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The verified session of `pan`: by its `AccessToken` when one is sent, else by the `otp` in the body.
    private func verifiedSession(_ request: Request, _ body: VendorBody, pan: String, principal: Principal, otpAllowed: Bool) async throws
        -> ProfileSession
    {
        guard let session = try await flow.session(sessionID(pan: pan, tenantID: principal.tenant.id), kinds: ["itr"], principal: principal) else {
            throw KwikIDReply.sessionNotFound
        }
        if let token = request.headers[Self.accessTokenHeader] {
            guard case .string(let expected)? = try flow.data(of: session)["access_token_hash"],
                Self.constantTimeEqual(Self.digest(token.trimmingCharacters(in: .whitespaces)), expected)
            else { throw KwikIDReply.unauthorized("Invalid AccessToken") }
        } else if otpAllowed, try body.optionalString("otp") != nil {
            // The OTP in the body verifies the session for this call; no AccessToken is issued (submit_otp issues one).
            _ = try await check(session, code: try body.otp(), principal: principal)
        } else if !otpAllowed, try await flow.otp.isVerified(session: session, principal: principal) {
            return session
        } else {
            throw KwikIDReply.unauthorized("AccessToken header is required")
        }
        guard try await flow.otp.isVerified(session: session, principal: principal) else { throw KwikIDReply.unauthorized("OTP not verified") }
        return session
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    func getData(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let pan = try body.pan("pan")
        let session = try await verifiedSession(request, body, pan: pan, principal: principal, otpAllowed: true)
        guard let record = try await flow.record(of: session) else { throw KwikIDReply.sessionNotFound }
        return KwikIDReply.ok(["itr_data": record.payloadMember("itr_data") ?? .object([:])]).response
    }

    func getDataByYear(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let pan = try body.pan("pan")
        let year = try body.string("year")
        guard SurepassITR.isFinancialYear(year) else { throw VendorInputError.invalid("year", reason: "must look like 2024-25") }
        let session = try await verifiedSession(request, body, pan: pan, principal: principal, otpAllowed: false)
        guard let record = try await flow.record(of: session) else { throw KwikIDReply.sessionNotFound }
        guard let data = record.payloadMember("itr_data_by_year")?.member(year) else {
            throw KwikIDReply.badRequest("No ITR data for assessment year \(year)")
        }
        return KwikIDReply.ok(["itr_data": data]).response
    }

    func logout(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let id: String
        if try body.optionalString("pan") != nil {
            id = sessionID(pan: try body.pan("pan"), tenantID: principal.tenant.id)
        } else if let token = request.headers[Self.accessTokenHeader]?.trimmingCharacters(in: .whitespaces), let dot = token.firstIndex(of: ".") {
            // The token names its session; only the token itself may end it.
            let named = String(token[..<dot])
            guard let session = try await flow.session(named, kinds: ["itr"], principal: principal),
                case .string(let expected)? = try flow.data(of: session)["access_token_hash"], Self.constantTimeEqual(Self.digest(token), expected)
            else { throw KwikIDReply.unauthorized("Invalid AccessToken") }
            id = named
        } else {
            throw KwikIDReply.validation(field: "pan", "pan or an AccessToken header is required")
        }
        let ended = try await services.sessions.deleteSession(id: id, tenantID: principal.tenant.id)
        return KwikIDReply.ok(["status": .object(["logged_out": .bool(ended)])]).response
    }
}
