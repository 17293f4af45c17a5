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
        let session = try await flow.open(
            kind: "ckyc_search", recordID: found.id, principal: principal, lifetime: services.sessionLifetime,
            data: .object(["id_number": .string(number)])
        ) { VendorIdentifier.letters(prefix: "ckyc_", random: services.random) }
        var searchData = found.record.payloadMember("search") ?? .object([:])
        searchData = searchData.adding(["ckyc_id": .string(found.record.identity)])
        return SurepassReply.success(
            .object(["client_id": .string(session.id), "id_number": .string(number), "ckyc_search_data": searchData])
        ).response
    }

    /// Checks the mobile the client passed against the record's and answers with Surepass's 422s.
    static func checkMobile(_ given: String, against record: SubjectRecord) throws {
        guard let onFile = record.mobile else { throw SurepassReply.mobileDoesNotExist }
        if record.payloadMember("mobile_registered") == .bool(false) { throw SurepassReply.mobileNotRegistered }
        guard ProfileFlow.nationalMobile(onFile) == ProfileFlow.nationalMobile(given) else { throw SurepassReply.mobileNotMatched }
    }

    static func mobileNumber(_ body: VendorBody) throws -> String {
        let value = try body.string("mobile_number").trimmingCharacters(in: .whitespaces)
        let digits = value.hasPrefix("+91") ? String(value.dropFirst(3)) : value
        guard digits.count == 10, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw VendorInputError.invalid("mobile_number", reason: "must be a 10-digit mobile number")
        }
        return digits
    }

    func generateOTP(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await VendorBody.read(request, context: context)
        let clientID = try body.string("client_id")
        let mobile = try Self.mobileNumber(body)
        guard let search = try await flow.session(clientID, kinds: ["ckyc_search"], principal: principal),
            let record = try await flow.record(of: search)
        else { throw SurepassReply.clientNotFound }
        try Self.checkMobile(mobile, against: record)
        var searchData = try flow.data(of: search)
        let destination = Destination(unchecked: record.mobile ?? "", channel: .sms)
        // An OTP of this search still pending: resend it under its download id (its cooldown and send limit apply).
        let current = try await search.verificationID.asyncMap { try await services.engine.verification(id: $0, principal: principal) }
        if let current, SessionDecider.sendPlan(current: current, now: services.now) == .resend(current.id), current.state == .pending,
            case .string(let downloadID)? = searchData["download_client_id"]
        {
            do {
                _ = try await services.engine.resend(id: current.id, channel: nil, principal: principal)
            } catch let refusal as VerificationError {
                throw SurepassReply.sendRefusal(refusal)
            }
            return SurepassReply.success(.object(["client_id": .string(downloadID), "otp_sent": .bool(true)])).response
        }
        let idNumber = searchData["id_number"] ?? .null
        let download: ProfileSession
        let verification: Verification
        do {
            (download, verification) = try await flow.openWithOTP(
                kind: "ckyc_download", recordID: search.recordID, principal: principal, lifetime: services.sessionLifetime,
                destination: destination, purpose: "ckyc_download", data: .object(["search_client_id": .string(search.id), "id_number": idNumber])
            ) { VendorIdentifier.letters(prefix: "ckyc_download_", random: services.random) }
        } catch let refusal as VerificationError {
            throw SurepassReply.sendRefusal(refusal)
        }
        // The search remembers its OTP and download id, so the next generate-otp resends instead of sending another.
        searchData["download_client_id"] = .string(download.id)
        _ = try await services.sessions.attachVerification(
            sessionID: search.id, tenantID: search.tenantID, expected: search.verificationID, verificationID: verification.id,
            sealedData: try flow.seal(searchData, for: search))
        return SurepassReply.success(.object(["client_id": .string(download.id), "otp_sent": .bool(true)])).response
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
        guard
            let found = try await services.records.find(
                tenantID: principal.tenant.id, kind: .ckyc, lookup: RecordLookup.make("ckyc_number", identifier))
        else { throw Self.noRecord }
        try Self.checkMobile(mobile, against: found.record)
        let clientID = VendorIdentifier.letters(prefix: "ckyc_", random: services.random)
        let session: ProfileSession
        do {
            (session, _) = try await flow.openWithOTP(
                kind: "ckyc_v3_download", recordID: found.id, principal: principal, lifetime: services.sessionLifetime,
                destination: Destination(unchecked: found.record.mobile ?? "", channel: .sms), purpose: "ckyc_download",
                data: .object(["client_id": .string(clientID)])
            ) { VendorIdentifier.digits(count: 8, random: services.random) }
        } catch let refusal as VerificationError {
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
