import Foundation
import OTPGateCore

/// The OTP of a vendor session, through the engine. A session is created naming the verification it will start
/// (`VerificationEngine.plannedID`), so a first send is one write: a start under that id with an idempotency key of
/// the session, which makes concurrent first sends one verification. A later send finds it replayed and is the engine's
/// resend (its cooldown and send limit); once that code expired, a fresh verification takes its place (the session's
/// pointer swapped by compare-and-set). A submit is the engine's check (attempts counted exactly under concurrency).
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
    /// With `replacingExpired` false, an expired code is reported (`expired`) instead of replaced on the session.
    ///
    /// With `binding` (a session not written yet, `ProfileFlow.subjectSession`), the session is written in the start's
    /// transaction (the session's compare-and-set makes concurrent first sends one, so no idempotency record is kept);
    /// the start then throws `SessionBindingError` when that does not hold. With `started`, the caller read the session's
    /// verification already: the send is its resend, without a start attempt first.
    func send(
        session: ProfileSession, to destination: Destination, purpose: String, principal: Principal, sealedData: [UInt8]? = nil,
        replacingExpired: Bool = true, binding: SessionBinding? = nil, started: Bool = false
    ) async throws -> Sent {
        let engine = services.engine
        let planned: String
        if let bound = binding?.session.verificationID {
            planned = bound
        } else {
            planned = try await plannedVerification(of: session, sealedData: sealedData)
        }
        if !started, case .created(let v) = try await start(session, planned, destination, purpose, principal, binding: binding) {
            if let sealedData, sealedData != session.sealedData {
                _ = try await services.sessions.attachVerification(
                    sessionID: session.id, tenantID: session.tenantID, expected: planned, verificationID: planned, sealedData: sealedData)
            }
            return .sent(v)
        }
        // Started before (replayed, or read by the caller): a resend.
        do {
            let v = try await engine.resend(id: planned, channel: nil, principal: principal)
            if let sealedData, sealedData != session.sealedData {
                _ = try await services.sessions.attachVerification(
                    sessionID: session.id, tenantID: session.tenantID, expected: planned, verificationID: planned, sealedData: sealedData)
            }
            return .resent(v)
        } catch VerificationError.expired where replacingExpired {
            // The code expired: a fresh verification in its place.
            let next = engine.plannedID()
            guard
                try await services.sessions.attachVerification(
                    sessionID: session.id, tenantID: session.tenantID, expected: planned, verificationID: next,
                    sealedData: sealedData ?? session.sealedData)
            else { throw VerificationError.resendCooldown(retryAfter: .seconds(1)) }  // another request replaced it just now
            guard case .created(let v) = try await start(session, next, destination, purpose, principal) else {
                throw VerificationError.resendCooldown(retryAfter: .seconds(1))
            }
            return .sent(v)
        }
    }

    /// The id the session's OTP is (or will be) sent under; a session created without one gets one now.
    private func plannedVerification(of session: ProfileSession, sealedData: [UInt8]?) async throws -> String {
        if let id = session.verificationID { return id }
        let planned = services.engine.plannedID()
        if try await services.sessions.attachVerification(
            sessionID: session.id, tenantID: session.tenantID, expected: nil, verificationID: planned, sealedData: sealedData ?? session.sealedData)
        {
            return planned
        }
        guard let id = try await services.sessions.session(id: session.id, tenantID: session.tenantID)?.verificationID else {
            throw VerificationError.notFound
        }
        return id
    }

    private func start(
        _ session: ProfileSession, _ id: String, _ destination: Destination, _ purpose: String, _ principal: Principal,
        binding: SessionBinding? = nil
    ) async throws -> StartResult {
        let engine = services.engine
        // One key per session incarnation and planned verification: concurrent sends replay one, nothing else ever does.
        let key = "profile:\(session.id):\(session.createdAt.milliseconds):\(id)"
        let claim =
            binding == nil
            ? IdempotencyClaim(key: key, requestHash: engine.cipher.requestDigest(Array("profile-session-send\n\(session.id)".utf8))) : nil
        return try await engine.start(
            StartRequest(destination: destination, purpose: purpose, reference: session.id, plannedID: id), principal: principal, idempotency: claim,
            binding: binding)
    }

    /// Checks `code` against the session's OTP; throws the engine's refusal (`notFound` when no OTP was sent yet).
    func check(session: ProfileSession, code: String, principal: Principal) async throws -> Verification {
        guard let id = session.verificationID else { throw VerificationError.notFound }
        return try await services.engine.check(id: id, code: code, principal: principal).verification
    }

    /// The session's verification, or `nil` when none was started yet. With `counted: false` the read does not count
    /// against the caller's request limit (its next use case does).
    func current(session: ProfileSession, principal: Principal, counted: Bool = true) async throws -> Verification? {
        guard let id = session.verificationID else { return nil }
        do {
            return try await services.engine.verification(id: id, principal: principal, counted: counted)
        } catch VerificationError.notFound {
            return nil
        }
    }

    /// Whether the session's OTP was verified (data calls release nothing before).
    func isVerified(session: ProfileSession, principal: Principal) async throws -> Bool {
        try await current(session: session, principal: principal)?.state == .approved
    }
}

extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
