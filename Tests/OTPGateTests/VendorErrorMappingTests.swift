import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OTPGateCore
import Testing

@testable import OTPGateProfiles

/// What no HTTP test can provoke on purpose: a storage failure and an unexpected error still come in the vendor's own
/// shape (Surepass's envelope, KwikID's `{error}`), never a stack trace, never problem+json.
@Suite struct VendorErrorMappingTests {
    struct Unexpected: Error {}
    let logger = Logger(label: "test")

    @Test func storageFailuresAndUnexpectedErrorsKeepTheVendorsShape() {
        let unavailable = SurepassReply.mapping(StoreError(.unavailable, "sqlite: busy"), logger: logger)
        #expect(unavailable.status == 503)
        #expect(unavailable.messageCode == "service_unavailable")
        #expect(!unavailable.message.contains("sqlite"))
        let surepass500 = SurepassReply.mapping(Unexpected(), logger: logger)
        #expect(surepass500.status == 500 && surepass500.messageCode == "internal_server_error")

        #expect(
            KwikIDReply.mapping(StoreError(.unavailable, "x"), logger: logger)
                == KwikIDReply(status: 503, body: .object(["error": .string("Service temporarily unavailable")])))
        #expect(
            KwikIDReply.mapping(Unexpected(), logger: logger) == KwikIDReply(status: 500, body: .object(["error": .string("Internal server error")])))
        #expect(KwikIDReply.mapping(PasswordCheckPool.Busy(), logger: logger).status == 429)
        #expect(SurepassReply.mapping(PasswordCheckPool.Busy(), logger: logger).status == 429)
    }

    /// Every engine refusal maps to a 4xx in both envelopes, whichever step it comes from.
    @Test func everyEngineRefusalIsAClientError() {
        let refusals: [VerificationError] = [
            .notFound, .incorrectCode(attemptsRemaining: 2), .maxAttemptsReached, .expired, .alreadyApproved, .canceled,
            .resendCooldown(retryAfter: .seconds(3)), .maxSendsReached, .destinationRateLimited(retryAfter: .seconds(3)),
            .destinationLocked(retryAfter: .seconds(3)), .keyRateLimited(retryAfter: .seconds(1)), .idempotencyKeyReused, .channelMismatch,
            .destinationNotAllowed, .clientRateLimited(retryAfter: .seconds(5)),
            .suspectedPumping(retryAfter: .seconds(5)), .budgetExhausted(retryAfter: .seconds(5)), .testDestinationNotAllowed,
        ]
        for refusal in refusals {
            #expect((400..<500).contains(SurepassReply.sendRefusal(refusal).status), "\(refusal)")
            #expect((400..<500).contains(SurepassReply.checkRefusal(refusal, invalid: .invalidOTP).status), "\(refusal)")
            #expect((400..<500).contains(KwikIDReply.sendRefusal(refusal).status), "\(refusal)")
            #expect((400..<500).contains(KwikIDReply.checkRefusal(refusal).status), "\(refusal)")
        }
        #expect(SurepassReply.sendRefusal(.resendCooldown(retryAfter: .milliseconds(2500))).response.headers[.retryAfter] == "3")
    }
}
