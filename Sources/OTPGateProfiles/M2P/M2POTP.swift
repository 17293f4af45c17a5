import Foundation
import HTTPTypes
import Hummingbird
import OTPGateCore
import OTPGateNativeAPI

/// M2P prepaid OTP: generate (`S` to the customer's mobile, `D` to mobile and email) and validate (docs/compat/m2p.md).
///
/// A generate is one engine start with at most 3 checks (M2P's "3 validation attempts per OTP"), idempotent by
/// `X-Request-ID` when the client sends one (a repeat returns the first answer, its trace number the verification's
/// reference). The trace number is the verification id in UUID form (`Trace`), so a generate is that one write; validate
/// reads the verification it names and checks through the engine (both codes at once for `DIFFERENT_OTP_DUAL`), and a
/// success keeps its reference and time in a session for the message-hash check, until 24 hours after the generate.
struct M2POTP {
    let services: ProfileServices
    var flow: ProfileFlow { ProfileFlow(services: services, profile: "m2p") }

    static let sessionLifetime: Duration = .seconds(86_400)
    static let requestIDHeader = HTTPField.Name("X-Request-ID")!

    /// How a trace's OTP went out, kept in its session: `S`; `D` one code to both; `D2` a code each.
    enum Mode: String {
        case single = "S"
        case dualSame = "D"
        case dualSeparate = "D2"

        init(_ v: Verification) {
            self = v.companion == nil ? .single : v.companionHasOwnCode ? .dualSeparate : .dualSame
        }

        var validateType: String {
            switch self {
            case .single: "SINGLE_OTP_MOBILE"
            case .dualSame: "SINGLE_OTP_DUAL"
            case .dualSeparate: "DIFFERENT_OTP_DUAL"
            }
        }
    }

    func generate(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await M2PBody.read(request, context: context)
        let otpType = try body.optionalString("otpType")?.uppercased() ?? "S"
        guard otpType == "S" || otpType == "D" else { throw M2PReply.badRequest("otpType must be S or D") }
        let found = try await customer(body, principal: principal)
        // The registered mobile: the contact on file, else the mobile the customer is found by.
        guard let mobile = found.record.mobile ?? found.record.keys["mobile"] else { throw M2PReply.noAccount }
        var companion: Destination?
        if otpType == "D" {
            guard let email = found.record.email else {
                try await services.engine.countRequest(principal: principal)
                throw M2PReply.business("No email registered for this account", code: "OTP_007")
            }
            companion = Destination(unchecked: email, channel: .email)
        }
        let settings = try CredentialSettings(opening: principal.sealedSettings, with: services.engine.cipher, credentialID: principal.keyID)
        let trace = Trace(at: services.now, random: services.random)
        let claim = try idempotencyClaim(request, body: body, principal: principal)
        let start = StartRequest(
            destination: Destination(unchecked: mobile, channel: .sms), purpose: "card_otp", maxAttempts: 3, reference: trace.number,
            plannedID: trace.verificationID, companion: companion, companionHasOwnCode: settings.separateDualCodes)
        let v: Verification
        let traceNumber: String
        do {
            switch try await services.engine.start(start, principal: principal, idempotency: claim) {
            case .created: traceNumber = trace.number
            case .replayed(let first): traceNumber = first.reference ?? trace.number
            }
        } catch let refusal as VerificationError {
            throw M2PReply.generateRefusal(refusal)
        }
        return M2PReply.result(["status": .bool(true), "traceNumber": .string(traceNumber), "refNumber": .string("")]).response
    }

    func validate(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.caller
        let body = try await M2PBody.read(request, context: context)
        let given = try body.string("traceNumber")
        guard let submitted = try body.optionalString("mobileOtp") ?? body.optionalString("otp") else {
            throw M2PReply.badRequest("mobileOtp is required")
        }
        let mobileOTP = try Self.otp(submitted, field: "mobileOtp")
        let emailOTP = try body.optionalString("emailOtp").map { try Self.otp($0, field: "emailOtp") }
        let otpType = try body.optionalString("otpType")?.uppercased()
        let ref = try body.optionalString("refNumber")
        if let ref, ref.utf8.count > 64 || !ref.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            throw M2PReply.badRequest("refNumber must be at most 64 printable characters")
        }
        // The trace names its verification; read without counting (the check below counts this request).
        let trace = Trace(number: given)?.number ?? given
        let found: Verification?
        do {
            found = try await Trace(number: given).asyncMap {
                try await services.engine.verification(id: $0.verificationID, principal: principal, counted: false)
            }
        } catch VerificationError.notFound {
            found = nil
        }
        guard let v = found, v.reference == trace, v.purpose == "card_otp" else {
            try await services.engine.countRequest(principal: principal)
            throw M2PReply.unknownTrace
        }
        let mode = Mode(v)
        if let otpType, otpType != mode.validateType {
            guard ["SINGLE_OTP_MOBILE", "SINGLE_OTP_DUAL", "DIFFERENT_OTP_DUAL"].contains(otpType) else {
                throw M2PReply.badRequest("otpType must be SINGLE_OTP_MOBILE, SINGLE_OTP_DUAL or DIFFERENT_OTP_DUAL")
            }
            throw M2PReply.badRequest("otpType \(otpType) does not match the OTP generated for this traceNumber (\(mode.validateType))")
        }
        if mode == .dualSeparate, emailOTP == nil { throw M2PReply.badRequest("emailOtp is required for DIFFERENT_OTP_DUAL") }
        do {
            _ = try await services.engine.check(
                id: v.id, code: mobileOTP, companionCode: mode == .dualSeparate ? emailOTP : nil, principal: principal)
        } catch let refusal as VerificationError {
            throw M2PReply.validateRefusal(refusal)
        }
        let refNumber = ref ?? Self.objectID(services.random.bytes(12))
        let validatedAt = services.now
        let hash = M2PMessageHash.compute(
            cipher: services.engine.cipher, tenantID: principal.tenant.id, traceNumber: trace, refNumber: refNumber, validatedAt: validatedAt)
        // What the message-hash check needs, kept for the rest of the 24 hours from the generate.
        var session = ProfileSession(
            id: trace, tenantID: principal.tenant.id, profile: "m2p", kind: "otp", recordID: "", verificationID: v.id, createdAt: validatedAt,
            expiresAt: v.createdAt + Self.sessionLifetime)
        session.sealedData = try flow.seal(["ref_number": .string(refNumber), "validated_at": .int(validatedAt.milliseconds)], for: session)
        _ = try await services.sessions.insertSession(session)
        return M2PReply.result(["status": .bool(true), "refNumber": .string(refNumber), "messageHash": .string(hash)]).response
    }

    /// The customer named by `entityId`, else `kitNo`, else `mobileNumber`; every one given must be that customer's.
    private func customer(_ body: M2PBody, principal: Principal) async throws -> RecordBook.Found {
        var lookups: [String] = []
        let countryCode = try body.optionalInt("countryCode")
        if let entity = try body.optionalString("entityId"), !entity.isEmpty {
            lookups.append(RecordLookup.make("entity_id", RecordKeys.canonicalIdentifier(entity)))
        }
        if let kit = try body.optionalString("kitNo"), !kit.isEmpty {
            lookups.append(RecordLookup.make("kit_no", RecordKeys.canonicalIdentifier(kit)))
        }
        if let raw = try body.optionalString("mobileNumber"), !raw.isEmpty {
            let code = countryCode.map(String.init) ?? "91"
            guard let mobile = try? PhoneNumber.normalize(raw, defaultCountryCode: code) else {
                throw M2PReply.badRequest("mobileNumber is not a valid mobile number")
            }
            lookups.append(RecordLookup.make("mobile", mobile))
        }
        guard !lookups.isEmpty else { throw M2PReply.badRequest("mobileNumber is required") }
        var found: RecordBook.Found?
        for lookup in lookups {
            guard let match = try await services.records.find(tenantID: principal.tenant.id, kind: .customer, lookup: lookup),
                found == nil || found?.id == match.id
            else {
                try await services.engine.countRequest(principal: principal)
                throw M2PReply.noAccount
            }
            found = match
        }
        guard let found else { throw M2PReply.noAccount }
        return found
    }

    /// `X-Request-ID` makes a generate idempotent (a repeat with another body is refused); without it every generate is new.
    private func idempotencyClaim(_ request: Request, body: M2PBody, principal: Principal) throws -> IdempotencyClaim? {
        guard let requestID = request.headers[Self.requestIDHeader]?.trimmingCharacters(in: .whitespaces), !requestID.isEmpty else {
            return nil
        }
        guard requestID.utf8.count <= 128, requestID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw M2PReply.badRequest("X-Request-ID must be at most 128 printable characters")
        }
        let digest = services.engine.cipher.requestDigest(Array(("m2p-generate\n" + JSONValue.object(body.fields).canonicalText).utf8))
        return IdempotencyClaim(key: "m2p:\(principal.keyID):\(requestID)", requestHash: digest)
    }

    static func otp(_ value: String, field: String) throws(M2PReply) -> String {
        let code = value.trimmingCharacters(in: .whitespaces)
        guard (4...10).contains(code.count), code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw M2PReply.badRequest("\(field) must be the digits of the OTP")
        }
        return code
    }

    /// 24 hex digits, the form of M2P's reference numbers.
    static func objectID(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }
}

/// `messageHash`: proof that a validate succeeded, which M2P returns for later operations. OTPGate defines it as the
/// upper-case hex HMAC-SHA256, under a key derived from the deployment's data key, of the tenant, trace number,
/// reference number and validation time; the tenant's backend checks one with `POST /v1/profiles/m2p/message-hash`.
enum M2PMessageHash {
    static func compute(cipher: PersonalDataCipher, tenantID: String, traceNumber: String, refNumber: String, validatedAt: Timestamp) -> String {
        let message = "m2p-message-hash\n\(tenantID)\n\(traceNumber)\n\(refNumber)\n\(validatedAt.milliseconds)"
        return Hex.encode(cipher.requestDigest(Array(message.utf8))).uppercased()
    }
}

/// A trace number and the verification it names: the trace is a UUID (version 7: 48 bits of milliseconds, then 74
/// random bits), and the verification id is the same 16 bytes in OTPGate's form. So a generate writes no mapping, and a
/// validate finds its verification from the trace alone (the verification's `reference` holds the trace, and every
/// read is the caller's tenant's).
struct Trace {
    let bytes: [UInt8]

    init(at time: Timestamp, random: any RandomSource) {
        let ms = UInt64(max(0, time.milliseconds))
        var b = (0..<6).map { UInt8(truncatingIfNeeded: ms >> (40 - 8 * UInt64($0))) } + random.bytes(10)
        b[6] = (b[6] & 0x0F) | 0x70
        b[8] = (b[8] & 0x3F) | 0x80
        bytes = b
    }

    /// A trace number as a client sends it back (any case); `nil` unless it is a UUID.
    init?(number: String) {
        let hex = Array(number.lowercased().utf8.filter { $0 != UInt8(ascii: "-") })
        guard number.utf8.count == 36, hex.count == 32 else { return nil }
        var b: [UInt8] = []
        for i in stride(from: 0, to: 32, by: 2) {
            guard let high = Self.nibble(hex[i]), let low = Self.nibble(hex[i + 1]) else { return nil }
            b.append(high << 4 | low)
        }
        bytes = b
    }

    var number: String { Hex.uuidText(bytes) }

    var verificationID: String { "vrf_" + Base32.encode(bytes) }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
