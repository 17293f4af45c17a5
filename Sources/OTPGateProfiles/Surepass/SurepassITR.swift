import Foundation
import Hummingbird
import OTPGateCore
import OTPGateNativeAPI

/// Surepass ITR: create-client (portal credentials checked against the record) → generate-2fa (the OTP to the
/// contact on file) → submit-2fa → the data calls on the same client_id; and forget-password → submit-otp.
struct SurepassITR {
    let services: ProfileServices
    var flow: ProfileFlow { ProfileFlow(services: services, profile: "surepass") }
    static let login: Set<String> = ["itr"]
    static let reset: Set<String> = ["itr_reset"]

    // MARK: session and 2FA

    func createClient(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let username = try body.optionalString("username") ?? body.optionalString("pan")
        guard let username, !username.allSatisfy(\.isWhitespace) else { throw VendorInputError.missing("username") }
        let password = try body.string("password")
        let expiry = try body.optionalInt("expiry")
        if let expiry, expiry <= 0 { throw VendorInputError.invalid("expiry", reason: "must be a positive number of seconds") }
        let pan = RecordKeys.canonicalIdentifier(username)
        try await services.engine.countRequest(principal: principal)
        let invalid = SurepassReply.failure(422, "invalid_credentials", "Invalid username or password.")
        guard RecordKeys.isPAN(pan),
            let found = try await services.records.find(tenantID: principal.tenant.id, kind: .itr, lookup: RecordLookup.make("pan", pan)),
            let hash = found.record.passwordHash
        else {
            // The same work as a real check, so a timing difference does not say which PANs are on file.
            _ = try await services.passwords.verify(password, against: Self.decoyHash)
            throw invalid
        }
        guard try await services.passwords.verify(password, against: hash) else { throw invalid }
        // The contact on file goes into the session, so generate-2fa need not open the record again.
        let session = try await flow.open(
            kind: "itr", recordID: found.id, principal: principal,
            lifetime: SessionDecider.lifetime(requestedSeconds: expiry, configured: services.sessionLifetime),
            data: .object(ProfileFlow.contactData(ProfileFlow.contact(of: found.record))), planned: services.engine.plannedID()
        ) { VendorIdentifier.letters(prefix: "itr_", random: services.random) }
        return SurepassReply.success(.object(["client_id": .string(session.id)]), message: "Client created successfully").response
    }

    /// A hash of nothing anyone knows, checked when there is no record, at the default cost.
    static let decoyHash = "$scrypt$ln=14,r=8,p=1$b3RwZ2F0ZS1kZWNveS1zYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

    func generate2FA(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let clientID = try body.string("client_id")
        guard let session = try await flow.session(clientID, kinds: Self.login, principal: principal) else { throw SurepassReply.clientNotFound }
        guard let destination = ProfileFlow.contact(in: try flow.data(of: session)) else {
            throw SurepassReply.failure(422, "contact_not_found", "No registered mobile number or email on file for this taxpayer.")
        }
        do {
            _ = try await flow.otp.send(session: session, to: destination, purpose: "itr_2fa", principal: principal)
        } catch let refusal as VerificationError {
            throw SurepassReply.sendRefusal(refusal)
        }
        return SurepassReply.success(.object(["otp_sent": .bool(true)]), message: "OTP Sent").response
    }

    func submit2FA(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let clientID = try body.string("client_id")
        let code = try body.otp()
        guard let session = try await flow.session(clientID, kinds: Self.login, principal: principal) else { throw SurepassReply.clientNotFound }
        do {
            _ = try await flow.otp.check(session: session, code: code, principal: principal)
        } catch let refusal as VerificationError {
            throw SurepassReply.checkRefusal(refusal, invalid: .invalidOTP)
        }
        return SurepassReply.success(.object(["logged_in": .bool(true)]), message: "Logged In Successfully").response
    }

    // MARK: data calls

    static let notLoggedIn = SurepassReply.failure(403, "2fa_not_completed", "Complete 2FA for this client_id before fetching data.")

    /// The record of a live, 2FA-verified session; `unknown` is the endpoint's own reply for a bad client_id.
    private func verifiedRecord(_ clientID: String, _ principal: Principal, unknown: SurepassReply, notVerified: SurepassReply = notLoggedIn)
        async throws -> SubjectRecord
    {
        guard let session = try await flow.session(clientID, kinds: Self.login, principal: principal),
            let record = try await flow.record(of: session)
        else { throw unknown }
        guard try await flow.otp.isVerified(session: session, principal: principal) else { throw notVerified }
        return record
    }

    func checkCredentials(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let clientID = try await VendorBody.read(request, context: context).string("client_id")
        let failed: JSONValue = .object(["success": .bool(false)])
        _ = try await verifiedRecord(
            clientID, principal, unknown: .failure(400, "invalid_client_id", "The provided client ID does not exist", data: failed),
            notVerified: .failure(403, "2fa_not_completed", "Complete 2FA for this client_id before fetching data.", data: failed))
        return SurepassReply.success(.object(["success": .bool(true)])).response
    }

    func details(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let clientID: String
        var itrID: Int?
        if request.method == .get {
            clientID = context.parameters.get("client_id") ?? ""
            if let raw = request.uri.queryParameters.get("itr_id") {
                guard let value = Int(raw) else { throw VendorInputError.wrongType("itr_id", expected: "an integer") }
                itrID = value
            }
        } else {
            let body = try await VendorBody.read(request, context: context)
            clientID = try body.string("client_id")
            itrID = try body.optionalInt("itr_id")
        }
        let record = try await verifiedRecord(clientID, principal, unknown: .clientNotFound)
        guard case .array(let filings)? = record.payloadMember("itr_details"),
            let filing = filings.first(where: { itrID == nil || $0.member("itr_id")?.intValue == itrID })
        else { throw SurepassReply.failure(404, "itr_not_found", "No ITR found for the given itr_id.") }
        return SurepassReply.success(filing.adding(["client_id": .string(clientID)])).response
    }

    func downloadITRV(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        try await list(request, context, member: "itr_v", as: "filed_itrv")
    }

    func downloadITRForm(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        try await list(request, context, member: "itr_forms", as: "filed_itr_form")
    }

    private func list(_ request: Request, _ context: AppRequestContext, member: String, as name: String) async throws -> Response {
        let principal = try context.caller
        let clientID = try await VendorBody.read(request, context: context).string("client_id")
        let record = try await verifiedRecord(clientID, principal, unknown: .clientNotFound)
        return SurepassReply.success(
            .object(["client_id": .string(clientID), "pan_no": .string(record.identity), name: record.payloadMember(member) ?? .array([])])
        ).response
    }

    func ais(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let clientID = try body.string("client_id")
        let year = try body.string("financial_year")
        guard Self.isFinancialYear(year) else { throw VendorInputError.invalid("financial_year", reason: "must look like 2022-23") }
        let record = try await verifiedRecord(clientID, principal, unknown: .failure(400, "invalid_client_id", "Invalid client_id provided"))
        guard let entry = record.payloadMember("ais")?.member(year) else {
            throw SurepassReply.failure(404, "ais_not_available", "AIS is not available for the given financial year.")
        }
        var data: [String: JSONValue] = ["client_id": .string(clientID), "financial_year": .string(year), "status": .string("completed")]
        if case .object(let members) = entry { data.merge(members) { _, new in new } }
        return SurepassReply.success(.object(data)).response
    }

    func profile(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let clientID = try await VendorBody.read(request, context: context).string("client_id")
        let record = try await verifiedRecord(clientID, principal, unknown: .clientNotFound)
        return SurepassReply.success(
            .object(["client_id": .string(clientID), "profile_details": record.payloadMember("profile") ?? .object([:])])
        ).response
    }

    /// `2022-23`: a year and the next one's last two digits.
    static func isFinancialYear(_ value: String) -> Bool {
        let parts = value.split(separator: "-")
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let first = Int(parts[0]), let second = Int(parts[1]) else { return false }
        return (first + 1) % 100 == second
    }

    // MARK: password reset

    static let resetInvalid = SurepassReply.failure(
        400, "invalid_otp", "The OTP provided is invalid or has expired", data: .object(["password_reset": .bool(false)]))

    func forgetPassword(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let clientID = try body.string("client_id")
        let password = try body.string("password")
        guard let login = try await flow.session(clientID, kinds: Self.login, principal: principal),
            let record = try await flow.record(of: login)
        else { throw SurepassReply.clientNotFound }
        guard SurepassRules.meetsPortalComplexity(password) else {
            throw SurepassReply.failure(400, "error", "Password does not meet complexity requirements")
        }
        guard let destination = ProfileFlow.contact(of: record) else {
            throw SurepassReply.failure(422, "contact_not_found", "No registered mobile number or email on file for this taxpayer.")
        }
        let hash = try await services.passwords.hash(password, random: services.random)
        let resetID = clientID + "#reset"
        let stored = try await services.sessions.session(id: resetID, tenantID: principal.tenant.id)
        var reset = SessionDecider.isLive(stored, profile: "surepass", kinds: Self.reset, now: services.now)
        let pending = try await reset.asyncMap { try await flow.otp.current(session: $0, principal: principal) } ?? nil
        // A new reset unless one is waiting for its OTP (then this is a resend that also takes the newest password).
        var sealedData: [UInt8]?
        if reset == nil || pending?.state != .pending {
            let now = services.now
            var fresh = ProfileSession(
                id: resetID, tenantID: principal.tenant.id, profile: "surepass", kind: "itr_reset", recordID: login.recordID,
                verificationID: services.engine.plannedID(), createdAt: now, expiresAt: login.expiresAt)
            fresh.sealedData = try flow.seal(["password_hash": .string(hash)], for: fresh)
            // Of concurrent restarts one wins; the others give way (a new reset OTP was just sent).
            guard try await services.sessions.replaceSession(fresh, expected: stored?.verificationID) else {
                throw SurepassReply.rateLimited("otp_resend_too_soon", "Please wait 1 seconds before requesting a new OTP.", retryAfter: .seconds(1))
            }
            reset = fresh
        } else if let reset {
            sealedData = try flow.seal(["password_hash": .string(hash)], for: reset)
        }
        guard let reset else { throw SurepassReply.clientNotFound }
        do {
            _ = try await flow.otp.send(session: reset, to: destination, purpose: "itr_password_reset", principal: principal, sealedData: sealedData)
        } catch let refusal as VerificationError {
            throw SurepassReply.sendRefusal(refusal)
        }
        return SurepassReply.success(.object(["otp_sent": .bool(true)]), message: "OTP Sent").response
    }

    func submitOTP(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let code = try body.otp()
        let clientID = try body.string("client_id")
        guard let reset = try await flow.session(clientID + "#reset", kinds: Self.reset, principal: principal) else {
            throw SurepassReply.clientNotFound
        }
        do {
            _ = try await flow.otp.check(session: reset, code: code, principal: principal)
        } catch VerificationError.alreadyApproved {
            // Approved before, but the new password may not have been stored (a crash between): finish it below.
        } catch let refusal as VerificationError {
            throw SurepassReply.checkRefusal(refusal, invalid: Self.resetInvalid)
        }
        guard case .string(let hash)? = try flow.data(of: reset)["password_hash"] else { throw Self.resetInvalid }
        _ = try await services.records.store.replacePasswordHash(recordID: reset.recordID, tenantID: reset.tenantID, hash: hash, at: services.now)
        _ = try await services.sessions.deleteSession(id: reset.id, tenantID: reset.tenantID)
        return SurepassReply.success(.object(["password_reset": .bool(true)]), message: "Password reset successful").response
    }
}

/// Surepass-only rules.
enum SurepassRules {
    /// The income-tax portal's password rule: 8 to 14 characters with an upper-case and a lower-case letter, a digit
    /// and a special character.
    static func meetsPortalComplexity(_ password: String) -> Bool {
        guard (8...14).contains(password.count) else { return false }
        return password.contains(where: { $0.isUppercase }) && password.contains(where: { $0.isLowercase })
            && password.contains(where: { $0.isNumber }) && password.contains(where: { !$0.isLetter && !$0.isNumber && !$0.isWhitespace })
    }
}

extension JSONValue {
    func member(_ name: String) -> JSONValue? {
        guard case .object(let members) = self, let value = members[name], value != .null else { return nil }
        return value
    }

    /// The object with `extra` members added (a non-object is wrapped as `value`).
    func adding(_ extra: [String: JSONValue]) -> JSONValue {
        guard case .object(var members) = self else { return .object(extra.merging(["value": self]) { a, _ in a }) }
        members.merge(extra) { _, new in new }
        return .object(members)
    }
}
