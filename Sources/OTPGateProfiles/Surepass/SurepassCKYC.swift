import Foundation
import Hummingbird
import OTPGateCore
import OTPGateNativeAPI

/// Surepass CKYC: v2 (search → generate-otp with the mobile on file checked → download with the OTP) and v3
/// (search/individual → download/individual/initiate → download/individual with `otp` or `resend`).
struct SurepassCKYC {
    let services: ProfileServices
    var flow: ProfileFlow { ProfileFlow(services: services, profile: "surepass") }

    static let documentTypes: Set<String> = ["PAN", "VOTER", "AADHAAR", "DRIVING_LICENSE", "CKYC_NUMBER"]
    /// v3 `id_type` → the document type records are indexed by (`ckyc_number` and `mobile_number` are keys of their own).
    static let v3Types: [String: String] = [
        "passport": "PASSPORT", "voter_id": "VOTER", "pan": "PAN", "driving_license": "DRIVING_LICENSE", "aadhaar_proof": "AADHAAR",
        "nrega_job_card": "NREGA_JOB_CARD", "npr_letter": "NPR_LETTER", "ckyc_number": "CKYC_NUMBER",
        "ckyc_reference_id": "CKYC_REFERENCE_ID", "mobile_number": "MOBILE_NUMBER",
    ]

    /// The lookup for a document type and number (`CKYC_NUMBER` and `MOBILE_NUMBER` are keys of their own).
    static func lookup(type: String, number: String) -> String? {
        switch type {
        case "CKYC_NUMBER": return RecordLookup.make("ckyc_number", RecordKeys.canonicalIdentifier(number))
        case "MOBILE_NUMBER":
            guard let e164 = try? PhoneNumber.normalize(number, defaultCountryCode: "91") else { return nil }
            return RecordLookup.make("mobile", e164)
        default: return RecordLookup.document(type: type, number: number)
        }
    }

    static let noRecord = SurepassReply.failure(422, "no_record_found", "No record found in CKYC for the given details.")

    // MARK: v2

    func search(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let number = try body.string("id_number")
        let type = try body.string("document_type").uppercased()
        guard Self.documentTypes.contains(type), let lookup = Self.lookup(type: type, number: number) else {
            throw VendorInputError.invalid("document_type", reason: "must be one of PAN, VOTER, AADHAAR, DRIVING_LICENSE, CKYC_NUMBER")
        }
        try await services.engine.countRequest(principal: principal)
        guard let found = try await services.records.find(tenantID: principal.tenant.id, kind: .ckyc, lookup: lookup) else { throw Self.noRecord }
        // The search carries what generate-otp needs (the mobile on file, the download id and the verification its OTP
        // will be sent under), so that step reads one row and writes one.
        let downloadID = VendorIdentifier.letters(prefix: "ckyc_download_", random: services.random)
        let planned = services.engine.plannedID()
        var facts: [String: JSONValue] = ["id_number": .string(number), "download_client_id": .string(downloadID)]
        facts["mobile"] = found.record.mobile.map(JSONValue.string)
        facts["mobile_registered"] = .bool(found.record.payloadMember("mobile_registered") != .bool(false))
        let session = try await flow.open(
            kind: "ckyc_search", recordID: found.id, principal: principal, lifetime: services.sessionLifetime, data: .object(facts), planned: planned
        ) { VendorIdentifier.letters(prefix: "ckyc_", random: services.random) }
        try await openDownload(downloadID, for: session, planned: planned, idNumber: .string(number))
        var searchData = found.record.payloadMember("search") ?? .object([:])
        searchData = searchData.adding(["ckyc_id": .string(found.record.identity)])
        return SurepassReply.success(
            .object(["client_id": .string(session.id), "id_number": .string(number), "ckyc_search_data": searchData])
        ).response
    }

    /// The download session a search's OTP is sent for, created with the search (same creation time: `SessionOTP`'s key).
    private func openDownload(_ id: String, for search: ProfileSession, planned: String, idNumber: JSONValue) async throws {
        var download = ProfileSession(
            id: id, tenantID: search.tenantID, profile: "surepass", kind: "ckyc_download", recordID: search.recordID, verificationID: planned,
            createdAt: search.createdAt, expiresAt: search.expiresAt)
        download.sealedData = try flow.seal(["search_client_id": .string(search.id), "id_number": idNumber], for: download)
        guard try await services.sessions.insertSession(download) else { throw StoreError(.conflict, "a new download id was taken") }
    }

    /// Runs a check that precedes the OTP send; a refusal counts the request against the credential's limit (a send
    /// that goes ahead is counted by the engine's start), so the mobile on file cannot be guessed faster than the
    /// limit, and no request is counted twice.
    private func counted(_ principal: Principal, _ check: () throws -> Void) async throws {
        do {
            try check()
        } catch {
            try await services.engine.countRequest(principal: principal)
            throw error
        }
    }

    /// Checks the mobile the client passed against the one on file and answers with Surepass's 422s.
    static func checkMobile(_ given: String, onFile: String?, registered: Bool) throws {
        guard let onFile else { throw SurepassReply.mobileDoesNotExist }
        guard registered else { throw SurepassReply.mobileNotRegistered }
        guard ProfileFlow.nationalMobile(onFile) == ProfileFlow.nationalMobile(given) else { throw SurepassReply.mobileNotMatched }
    }

    static func checkMobile(_ given: String, against record: SubjectRecord) throws {
        try checkMobile(given, onFile: record.mobile, registered: record.payloadMember("mobile_registered") != .bool(false))
    }

    static func mobileNumber(_ body: VendorBody) throws -> String {
        let value = try body.string("mobile_number").trimmingCharacters(in: .whitespaces)
        let digits = value.hasPrefix("+91") ? String(value.dropFirst(3)) : value
        guard digits.count == 10, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw VendorInputError.invalid("mobile_number", reason: "must be a 10-digit mobile number")
        }
        return digits
    }

    /// Sends the OTP of the search's download, or resends it while it is pending (same download id, the engine's
    /// cooldown and send limit); once it was used or expired, a new download id and OTP.
    func generateOTP(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let clientID = try body.string("client_id")
        let mobile = try Self.mobileNumber(body)
        guard let search = try await flow.session(clientID, kinds: ["ckyc_search"], principal: principal),
            let planned = search.verificationID
        else { throw SurepassReply.clientNotFound }
        var facts = try flow.data(of: search)
        let onFile: String? = if case .string(let m)? = facts["mobile"] { m } else { nil }
        try await counted(principal) { try Self.checkMobile(mobile, onFile: onFile, registered: facts["mobile_registered"] != .bool(false)) }
        guard let onFile, case .string(let downloadID)? = facts["download_client_id"] else { throw SurepassReply.clientNotFound }
        let destination = Destination(unchecked: onFile, channel: .sms)
        let download = ProfileSession(
            id: downloadID, tenantID: search.tenantID, profile: "surepass", kind: "ckyc_download", recordID: search.recordID,
            verificationID: planned, createdAt: search.createdAt, expiresAt: search.expiresAt)
        do {
            _ = try await flow.otp.send(
                session: download, to: destination, purpose: "ckyc_download", principal: principal, replacingExpired: false)
            return SurepassReply.success(.object(["client_id": .string(downloadID), "otp_sent": .bool(true)])).response
        } catch VerificationError.alreadyApproved, VerificationError.expired {
            // That download is done or expired: a new download id and OTP for this search. (Spent attempts are refused
            // until the code expires, as everywhere: a new code must not bring new attempts.)
        } catch let refusal as VerificationError {
            throw SurepassReply.sendRefusal(refusal)
        }
        let nextID = VendorIdentifier.letters(prefix: "ckyc_download_", random: services.random)
        let next = services.engine.plannedID()
        facts["download_client_id"] = .string(nextID)
        guard
            try await services.sessions.attachVerification(
                sessionID: search.id, tenantID: search.tenantID, expected: planned, verificationID: next,
                sealedData: try flow.seal(facts, for: search))
        else { throw SurepassReply.rateLimited("otp_resend_too_soon", "Please wait 1 seconds before requesting a new OTP.", retryAfter: .seconds(1)) }
        var moved = search
        moved.verificationID = next
        try await openDownload(nextID, for: moved, planned: next, idNumber: facts["id_number"] ?? .null)
        let fresh = ProfileSession(
            id: nextID, tenantID: search.tenantID, profile: "surepass", kind: "ckyc_download", recordID: search.recordID, verificationID: next,
            createdAt: search.createdAt, expiresAt: search.expiresAt)
        do {
            _ = try await flow.otp.send(session: fresh, to: destination, purpose: "ckyc_download", principal: principal)
        } catch let refusal as VerificationError {
            throw SurepassReply.sendRefusal(refusal)
        }
        return SurepassReply.success(.object(["client_id": .string(nextID), "otp_sent": .bool(true)])).response
    }

    func download(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let clientID = try body.string("client_id")
        let code = try body.otp()
        guard let session = try await flow.session(clientID, kinds: ["ckyc_download"], principal: principal),
            let record = try await flow.record(of: session)
        else { throw SurepassReply.clientNotFound }
        do {
            _ = try await flow.otp.check(session: session, code: code, principal: principal)
        } catch let refusal as VerificationError {
            throw SurepassReply.checkRefusal(refusal, invalid: .invalidOTP)
        }
        let data = try flow.data(of: session)
        let downloadData = record.payloadMember("download") ?? .object([:])
        return SurepassReply.success(
            .object([
                "client_id": .string(session.id), "ckyc_search_client_id": data["search_client_id"] ?? .null, "id_number": data["id_number"] ?? .null,
                "dob": Self.dateOfBirth(downloadData), "ckyc_download_data": downloadData,
            ])
        ).response
    }

    static func dateOfBirth(_ download: JSONValue) -> JSONValue {
        download.member("personal_identifiable_data")?.member("personal_details")?.member("dob") ?? .null
    }

    // MARK: v3

    func searchV3(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let rawType = try body.string("id_type").lowercased().replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")
        let number = try body.string("id_number")
        guard let type = Self.v3Types[rawType] else { throw VendorInputError.invalid("id_type", reason: "is not a supported id type") }
        guard let lookup = Self.lookup(type: type, number: number) else {
            throw VendorInputError.invalid("id_number", reason: "is not a valid mobile number")
        }
        try await services.engine.countRequest(principal: principal)
        let found = try await services.records.find(tenantID: principal.tenant.id, kind: .ckyc, lookup: lookup)
        var records: [JSONValue] = []
        if let found {
            let search = found.record.payloadMember("search") ?? .object([:])
            records.append(search.adding(["ckyc_identifier": .string(found.record.identity)]))
        }
        let clientID = VendorIdentifier.letters(prefix: "ckyc_", random: services.random)
        return SurepassReply.success(
            .object(["client_id": .string(clientID), "records": .array(records), "record_count": .int(records.count)])
        ).response
    }

    func initiateV3(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let identifier = RecordKeys.canonicalIdentifier(try body.string("ckyc_identifier"))
        let mobile = try Self.mobileNumber(body)
        let found = try await services.records.find(tenantID: principal.tenant.id, kind: .ckyc, lookup: RecordLookup.make("ckyc_number", identifier))
        try await counted(principal) {
            guard let found else { throw Self.noRecord }
            try Self.checkMobile(mobile, against: found.record)
        }
        guard let found else { throw Self.noRecord }
        let clientID = VendorIdentifier.letters(prefix: "ckyc_", random: services.random)
        let session = try await flow.open(
            kind: "ckyc_v3_download", recordID: found.id, principal: principal, lifetime: services.sessionLifetime,
            data: .object(["client_id": .string(clientID)]), planned: services.engine.plannedID()
        ) { VendorIdentifier.digits(count: 8, random: services.random) }
        do {
            _ = try await flow.otp.send(
                session: session, to: Destination(unchecked: found.record.mobile ?? "", channel: .sms), purpose: "ckyc_download",
                principal: principal)
        } catch let refusal as VerificationError {
            _ = try? await services.sessions.deleteSession(id: session.id, tenantID: session.tenantID)
            throw SurepassReply.sendRefusal(refusal)
        }
        return SurepassReply.success(
            .object(["client_id": .string(clientID), "request_id": .string(session.id), "status": .string("otp_sent")])
        ).response
    }

    func downloadV3(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let requestID = try body.string("request_id")
        guard requestID.count <= 8, requestID.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw VendorInputError.invalid("request_id", reason: "must be digits only, at most 8")
        }
        let resend = try body.optionalBool("resend") ?? false
        let hasOTP = try body.optionalString("otp") != nil
        if resend && hasOTP { throw VendorInputError.invalid("otp", reason: "and resend: true cannot both be given") }
        if !resend && !hasOTP { throw VendorInputError.missing("otp") }
        guard let session = try await flow.session(requestID, kinds: ["ckyc_v3_download"], principal: principal),
            let record = try await flow.record(of: session)
        else { throw SurepassReply.failure(404, "invalid_request_id", "Request with given request_id not found.") }
        let clientID = try flow.data(of: session)["client_id"] ?? .null
        if resend {
            do {
                _ = try await flow.otp.send(
                    session: session, to: Destination(unchecked: record.mobile ?? "", channel: .sms), purpose: "ckyc_download", principal: principal)
            } catch let refusal as VerificationError {
                throw SurepassReply.sendRefusal(refusal)
            }
            return SurepassReply.success(
                .object(["client_id": clientID, "request_id": .string(requestID), "status": .string("otp_resent")])
            ).response
        }
        let code = try body.otp()
        do {
            _ = try await flow.otp.check(session: session, code: code, principal: principal)
        } catch let refusal as VerificationError {
            throw SurepassReply.checkRefusal(refusal, invalid: .invalidOTP)
        }
        return SurepassReply.success(
            .object([
                "client_id": clientID, "request_id": .string(requestID), "status": .string("downloaded"),
                "ckyc_download_data": record.payloadMember("download") ?? .object([:]),
            ])
        ).response
    }
}
