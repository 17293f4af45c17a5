import Foundation
import OTPGateCore

/// The OTP of a vendor session, through the engine: the first send starts a verification (idempotent per session, so
/// two concurrent first sends make one), a later send is the engine's resend (its cooldown and send limit), a send after
/// the code expired starts a fresh one in its place, and a submit is the engine's check (its attempts, counted
/// exactly under concurrency). The session only points at the verification; the store swaps that pointer
/// conditionally.
struct SessionOTP {
    let services: ProfileServices

    enum Sent: Equatable {
        case sent(Verification)
        case resent(Verification)
        var verification: Verification {
            switch self {
            case .sent(let v), .resent(let v): v
            }
        }
    }

    /// Sends (or resends) the session's OTP to `destination`; `sealedData` replaces the session's flow facts when given.
    func send(
        session: ProfileSession, to destination: Destination, purpose: String, principal: Principal, sealedData: [UInt8]? = nil
    ) async throws -> Sent {
        let engine = services.engine
        let current = try await session.verificationID.asyncMap { try await engine.verification(id: $0, principal: principal) }
        switch SessionDecider.sendPlan(current: current, now: services.now) {
        case .resend(let id):
            let v = try await engine.resend(id: id, channel: nil, principal: principal)
            if let sealedData {
                _ = try await services.sessions.attachVerification(
                    sessionID: session.id, tenantID: session.tenantID, expected: id, verificationID: id, sealedData: sealedData)
            }
            return .resent(v)
        case .start:
            return .sent(try await start(session, destination, purpose, principal, replacing: nil, sealedData))
        case .replace(let old):
            return .sent(try await start(session, destination, purpose, principal, replacing: old, sealedData))
        }
    }

    private func start(
        _ session: ProfileSession, _ destination: Destination, _ purpose: String, _ principal: Principal, replacing old: String?,
        _ sealedData: [UInt8]?
    ) async throws -> Verification {
        let engine = services.engine
        // One idempotency key per session (as created: a replaced session is a new one) and predecessor, so concurrent
        // first sends replay one verification and nothing else ever does.
        let key = "profile:\(session.id):\(session.createdAt.milliseconds):\(old ?? "first")"
        let claim = IdempotencyClaim(key: key, requestHash: engine.cipher.requestDigest(Array("profile-session-send\n\(session.id)".utf8)))
        let result = try await engine.start(
            StartRequest(destination: destination, purpose: purpose, reference: session.id), principal: principal, idempotency: claim)
        let v: Verification
        switch result {
        case .created(let created): v = created
        case .replayed(let first): v = first
        }
        let attached = try await services.sessions.attachVerification(
            sessionID: session.id, tenantID: session.tenantID, expected: old, verificationID: v.id, sealedData: sealedData ?? session.sealedData)
        if !attached {
            // Another request attached first: it is this verification (a replay), or the session moved on.
            let now = try await services.sessions.session(id: session.id, tenantID: session.tenantID)
            guard now?.verificationID == v.id else { throw VerificationError.notFound }
        }
        return v
    }

    /// Checks `code` against the session's OTP; throws the engine's refusal (or `notFound` when no OTP was sent).
    func check(session: ProfileSession, code: String, principal: Principal) async throws -> Verification {
        guard let id = session.verificationID else { throw VerificationError.notFound }
        return try await services.engine.check(id: id, code: code, principal: principal).verification
    }

    /// Whether the session's OTP was verified (data calls release nothing before).
    func isVerified(session: ProfileSession, principal: Principal) async throws -> Bool {
        guard let id = session.verificationID else { return false }
        return try await services.engine.verification(id: id, principal: principal).state == .approved
    }
}

extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
