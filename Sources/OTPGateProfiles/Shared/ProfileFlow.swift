import Foundation
import OTPGateCore
import OTPGateNativeAPI

/// The steps every vendor flow repeats: find a live session, the record it is about, where its OTP goes, and open
/// a new session under a fresh id.
struct ProfileFlow {
    let services: ProfileServices
    let profile: String

    var otp: SessionOTP { SessionOTP(services: services) }

    /// The caller's live session with this id and one of these kinds, or `nil` (unknown, expired, another tenant's or
    /// another profile's).
    func session(_ id: String, kinds: Set<String>, principal: Principal) async throws -> ProfileSession? {
        guard !id.isEmpty, id.utf8.count <= 128 else { return nil }
        let found = try await services.sessions.session(id: id, tenantID: principal.tenant.id)
        return SessionDecider.isLive(found, profile: profile, kinds: kinds, now: services.now)
    }

    /// The record a session refers to (it can have been removed since: `nil`).
    func record(of session: ProfileSession) async throws -> SubjectRecord? {
        try await services.records.find(id: session.recordID, tenantID: session.tenantID)?.record
    }

    /// Opens a session under a fresh id from `makeID` (drawn again on the rare collision), naming the verification its
    /// OTP will be sent under when `planned` (`SessionOTP`).
    func open(
        kind: String, recordID: String, principal: Principal, lifetime: Duration, data: JSONValue? = nil, planned: String? = nil,
        makeID: () -> String
    ) async throws -> ProfileSession {
        let now = services.now
        for _ in 0..<8 {
            let id = makeID()
            let sealed = try data.map { try services.records.sealSessionData($0, sessionID: id) } ?? []
            let session = ProfileSession(
                id: id, tenantID: principal.tenant.id, profile: profile, kind: kind, recordID: recordID, verificationID: planned, sealedData: sealed,
                createdAt: now, expiresAt: now + lifetime)
            if try await services.sessions.insertSession(session) { return session }
        }
        throw StoreError(.conflict, "could not draw a free session id")
    }

    /// The session of one subject (its id derived from the subject: a PAN, an initiator and mobile). It goes on while its
    /// OTP is pending with attempts left; a verified, spent, canceled or missing one starts over under a new planned
    /// verification. Of concurrent restarts one wins; the others go on with its session (their send is a resend).
    ///
    /// A signed request's `nonce` is recorded on its own when the session goes on (a replay throws `SessionBindingError.replayed`
    /// before anything changes); a restart is not written here but returned as a `SessionBinding` (with `data` and the
    /// nonce) for the send's start to write in its own transaction.
    func subjectSession(
        id: String, kind: String, recordID: String, principal: Principal, data: [String: JSONValue] = [:], nonce: RequestNonce?
    ) async throws -> SubjectSession {
        let stored = try await services.sessions.session(id: id, tenantID: principal.tenant.id)
        let live = SessionDecider.isLive(stored, profile: profile, kinds: [kind], now: services.now)
        // Uncounted: the send that follows counts this request.
        let pending = try await live.asyncMap { try await otp.current(session: $0, principal: principal, counted: false) } ?? nil
        if let live, let pending, pending.state == .pending, pending.attempts < pending.maxAttempts {
            try await claim(nonce)
            return .live(live)
        }
        let now = services.now
        var fresh = ProfileSession(
            id: id, tenantID: principal.tenant.id, profile: profile, kind: kind, recordID: recordID, verificationID: services.engine.plannedID(),
            createdAt: now, expiresAt: now + services.sessionLifetime)
        fresh.sealedData = data.isEmpty ? [] : try seal(data, for: fresh)
        return .fresh(fresh, SessionBinding(session: fresh, expected: stored?.verificationID, nonce: nonce))
    }

    enum SubjectSession {
        /// The session goes on (its OTP pending); the request's nonce is recorded.
        case live(ProfileSession)
        /// A new session, written by the send's start (`SessionOTP.send(binding:)`).
        case fresh(ProfileSession, SessionBinding)
    }

    /// Records a signed request's replay-guard entry; throws `SessionBindingError.replayed` if it was seen already.
    func claim(_ nonce: RequestNonce?) async throws {
        guard let nonce else { return }
        guard
            try await services.nonces.claimRequestNonce(tenantID: nonce.tenantID, digest: nonce.digest, now: services.now, expiresAt: nonce.expiresAt)
        else { throw SessionBindingError.replayed }
    }

    /// The flow facts sealed in a session.
    func data(of session: ProfileSession) throws -> [String: JSONValue] {
        guard case .object(let members) = try services.records.openSessionData(session.sealedData, sessionID: session.id) else { return [:] }
        return members
    }

    func seal(_ data: [String: JSONValue], for session: ProfileSession) throws -> [UInt8] {
        try services.records.sealSessionData(.object(data), sessionID: session.id)
    }

    /// Where a record's OTP goes: the mobile on file, else the email on file.
    static func contact(of record: SubjectRecord) -> Destination? {
        if let mobile = record.mobile { return Destination(unchecked: mobile, channel: .sms) }
        if let email = record.email { return Destination(unchecked: email, channel: .email) }
        return nil
    }

    /// A contact as kept in a session's sealed data (so a send need not open the record again).
    static func contactData(_ destination: Destination?) -> [String: JSONValue] {
        guard let destination else { return [:] }
        return ["to": .string(destination.value), "channel": .string(destination.channel.rawValue)]
    }

    static func contact(in data: [String: JSONValue]) -> Destination? {
        guard case .string(let to)? = data["to"], case .string(let raw)? = data["channel"], let channel = Channel(rawValue: raw) else { return nil }
        return Destination(unchecked: to, channel: channel)
    }

    /// The last ten digits of a phone number, as Indian clients write mobiles.
    static func nationalMobile(_ e164: String) -> String { String(e164.filter(\.isNumber).suffix(10)) }
}

extension AppRequestContext {
    /// The principal the profile's authentication middleware set.
    var caller: Principal {
        get throws {
            guard let principal else { throw VendorInputError.invalid("Authorization", reason: "is missing") }
            return principal
        }
    }
}
