import Foundation
import OTPGateCore
import Testing

@testable import OTPGateServer

/// A verification with a companion destination (M2P's dual OTP, built in the engine): one verification, one attempt
/// counter and one expiry, delivered to both destinations, with one code for both or a code each.
@Suite(.timeLimit(.minutes(3))) struct DualDestinationTests {
    static let mobile = Destination(unchecked: "+919876543210", channel: .sms)
    static let email = Destination(unchecked: "dual@example.com", channel: .email)

    func start(_ h: Harness, ownCode: Bool) async throws -> Verification {
        guard
            case .created(let v) = try await h.engine.start(
                StartRequest(destination: Self.mobile, companion: Self.email, companionHasOwnCode: ownCode), principal: h.principal)
        else { throw TestFailure("not created") }
        return v
    }

    /// The codes of the last send to each destination.
    func codes(_ h: Harness, _ id: String) async -> (mobile: String, email: String) {
        await h.deliver()
        let sent = h.sender.messages.filter { $0.verificationID == id }
        let mobile = sent.last { $0.destination == Self.mobile.value }.map { String($0.text.prefix { $0.isNumber }) } ?? ""
        let email = sent.last { $0.destination == Self.email.value }.map { String($0.text.prefix { $0.isNumber }) } ?? ""
        return (mobile, email)
    }

    @Test(arguments: Backend.available) func aCodeEachIsCheckedTogetherAndResentTogether(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let v = try await start(h, ownCode: true)
        let first = await codes(h, v.id)
        #expect(!first.mobile.isEmpty && !first.email.isEmpty)
        let stored = try await h.engine.verification(id: v.id, principal: h.principal)
        #expect(stored.companion == Self.email)
        #expect(stored.companionHasOwnCode)

        // Either code wrong, or the codes swapped, or the companion's missing: one attempt each.
        await #expect(throws: VerificationError.incorrectCode(attemptsRemaining: 4)) {
            try await h.engine.check(id: v.id, code: first.mobile, companionCode: wrongCode(for: first.email), principal: h.principal)
        }
        await #expect(throws: VerificationError.incorrectCode(attemptsRemaining: 3)) {
            try await h.engine.check(id: v.id, code: first.mobile, principal: h.principal)
        }
        if first.mobile != first.email {
            await #expect(throws: VerificationError.incorrectCode(attemptsRemaining: 2)) {
                try await h.engine.check(id: v.id, code: first.email, companionCode: first.mobile, principal: h.principal)
            }
        }

        // A resend renews both codes (the attempt counter is kept); the old pair no longer works.
        h.clock.advance(.seconds(h.engine.defaultPolicy.resendCooldownSeconds))
        let before = h.sender.messages.count
        _ = try await h.engine.resend(id: v.id, channel: nil, principal: h.principal)
        let second = await codes(h, v.id)
        #expect(h.sender.messages.count == before + 2)
        let ids = h.sender.messages.suffix(2).map(\.messageID).sorted()
        #expect(ids == [NewOutboxMessage.id(verificationID: v.id, send: 2), NewOutboxMessage.id(verificationID: v.id, send: 2, part: 2)])
        if first != second {
            await #expect(throws: VerificationError.self) {
                try await h.engine.check(id: v.id, code: first.mobile, companionCode: first.email, principal: h.principal)
            }
        }
        let approval = try await h.engine.check(id: v.id, code: second.mobile, companionCode: second.email, principal: h.principal)
        #expect(approval.verification.state == .approved)
        guard case .valid(let claims) = try await h.engine.verifyToken(approval.token, consume: false, purpose: nil, principal: h.principal) else {
            throw TestFailure("the token is not valid")
        }
        #expect(claims.phoneNumber == Self.mobile.value && claims.phoneNumberVerified == true)
        #expect(claims.email == Self.email.value && claims.emailVerified == true)
        #expect(claims.amr == ["otp", "sms", "email"])
    }

    @Test(arguments: Backend.available) func oneCodeGoesToBothAndOneCodeApproves(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let v = try await start(h, ownCode: false)
        let sent = await codes(h, v.id)
        #expect(sent.mobile == sent.email)
        #expect(h.sender.messages.map(\.destination).sorted() == [Self.email.value, Self.mobile.value].sorted())
        // A second code where none was sent is wrong: it counts an attempt.
        await #expect(throws: VerificationError.incorrectCode(attemptsRemaining: 4)) {
            try await h.engine.check(id: v.id, code: sent.mobile, companionCode: sent.email, principal: h.principal)
        }
        #expect(try await h.engine.check(id: v.id, code: sent.mobile, principal: h.principal).verification.state == .approved)
    }
}
