import OTPGateCore
import Testing

@testable import OTPGateProfiles

/// The profiles' own rules, without a database.
@Suite struct SessionDeciderTests {
    @Test func aSessionLivesForTheConfiguredWindowOrAShorterRequestedOne() {
        #expect(SessionDecider.lifetime(requestedSeconds: nil, configured: .seconds(1800)) == .seconds(1800))
        #expect(SessionDecider.lifetime(requestedSeconds: 120, configured: .seconds(1800)) == .seconds(120))
        #expect(SessionDecider.lifetime(requestedSeconds: 5, configured: .seconds(1800)) == .seconds(60))
        #expect(SessionDecider.lifetime(requestedSeconds: 99_999, configured: .seconds(1800)) == .seconds(1800))
    }

    @Test func aSessionAnswersOnlyForItsProfileAndKindUntilItExpires() {
        let now = Timestamp(seconds: 1_000)
        let session = ProfileSession(
            id: "itr_x", tenantID: "ten_a", profile: "surepass", kind: "itr", recordID: "rec_1", createdAt: now, expiresAt: now + .seconds(60))
        #expect(SessionDecider.isLive(session, profile: "surepass", kinds: ["itr"], now: now) == session)
        #expect(SessionDecider.isLive(session, profile: "surepass", kinds: ["itr"], now: now + .seconds(59)) == session)
        #expect(SessionDecider.isLive(session, profile: "surepass", kinds: ["itr"], now: now + .seconds(60)) == nil)
        #expect(SessionDecider.isLive(session, profile: "kwikid", kinds: ["itr"], now: now) == nil)
        #expect(SessionDecider.isLive(session, profile: "surepass", kinds: ["itr_reset"], now: now) == nil)
        #expect(SessionDecider.isLive(nil, profile: "surepass", kinds: ["itr"], now: now) == nil)
    }

    @Test func thePortalPasswordRule() {
        #expect(SurepassRules.meetsPortalComplexity("New@Pass99"))
        for weak in ["nouppercase1@", "NOLOWER1@", "NoDigits@@", "NoSpecial99", "Far@TooLongPassword1"] {
            #expect(!SurepassRules.meetsPortalComplexity(weak), "\(weak)")
        }
        #expect(!SurepassRules.meetsPortalComplexity("Ab1@"))
    }
}
