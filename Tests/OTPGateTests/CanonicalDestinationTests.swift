import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// One destination, one canonical form (issue 12): no spelling of a number or an address — an invisible or combining
/// mark, a Unicode digit, letter case, Gmail's dots and `+tag` — becomes a second destination that walks around a
/// limit or a lock. The canonical form keys every rule, is where the message goes and what the token carries.
@Suite struct CanonicalDestinationTests {
    /// Phone spellings that are not ASCII: each was a new destination before issue 12.
    static let nonASCIIPhones = [
        "+91987654321\u{FE0F}0",  // variation selector after a digit
        "+9198765432\u{301}10",  // combining acute accent
        "+919876543210\u{200B}",  // zero-width space at the end
        "+9198765\u{200D}43210",  // zero-width joiner inside
        "\u{FF0B}\u{FF19}\u{FF11}\u{FF19}\u{FF18}\u{FF17}\u{FF16}\u{FF15}\u{FF14}\u{FF13}\u{FF12}\u{FF11}\u{FF10}",  // fullwidth
        "\u{096F}\u{096E}\u{096D}\u{096C}\u{096B}\u{096A}\u{0969}\u{0968}\u{0967}\u{0966}",  // Devanagari digits
        "+91\u{00A0}9876543210",  // no-break space
        "+91\t98765 43210",  // tab inside
    ]

    @Test(arguments: nonASCIIPhones) func aPhoneNumberIsParsedFromASCIIOnly(raw: String) {
        #expect(throws: DestinationError.self) { try Destination.parse(raw, channel: .sms) }
    }

    @Test(arguments: ["9876543210", "+91 98765 43210", "+91 (98765) 43210", "0091-98765-43210", "098765.43210", " +919876543210 "])
    func everyASCIISpellingOfANumberHasOneCanonicalForm(raw: String) throws {
        #expect(try Destination.parse(raw, channel: .sms).value == "+919876543210")
    }

    @Test(arguments: [
        ("Priya@Example.COM", "priya@example.com"),
        ("PRIYA.SHARMA+otp@example.co.in", "priya.sharma+otp@example.co.in"),  // no folding outside Gmail
        ("J.Doe+otp@GMail.com", "jdoe@gmail.com"),
        ("j.d.o.e@gmail.com", "jdoe@gmail.com"),
        ("JDoe+a+b@googlemail.com", "jdoe@gmail.com"),
    ])
    func everySpellingOfAnAddressHasOneCanonicalForm(raw: String, canonical: String) throws {
        #expect(try Destination.parse(raw, channel: .email).value == canonical)
    }

    @Test(arguments: ["a\u{301}@example.com", "priya@exa\u{200B}mple.com", "priya\u{FE0F}@example.com", "+otp@gmail.com", "...@gmail.com"])
    func anAddressOutsideTheAcceptedSyntaxIsRefused(raw: String) {
        #expect(throws: DestinationError.self) { try Destination.parse(raw, channel: .email) }
    }

    @Test(arguments: Backend.available) func aVariantOfANumberDoesNotWalkAroundTheStartLimitOrALock(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK": "2"])
        try await h.test { client in
            for _ in 0..<5 { _ = try await client.start(to: "+919876543210") }
            // The limit holds for every ASCII spelling, and a non-ASCII spelling is no destination at all.
            #expect(try await client.post("/v1/verifications", #"{"to":"98765 43210","channel":"sms"}"#).problemCode == "rate_limited")
            let invisible = try await client.post("/v1/verifications", #"{"to":"+91987654321\uFE0F0","channel":"sms"}"#)
            #expect(invisible.status == .unprocessableContent)
            #expect(invisible.problemCode == "invalid_field")
            #expect(invisible.string("field") == "to")

            // A lock after failed checks holds for every spelling too.
            let id = try await client.start(to: "+919812345678")
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            for _ in 0..<2 { #expect(try await client.check(id, wrongCode(for: code)).problemCode == "incorrect_code") }
            #expect(try await client.post("/v1/verifications", #"{"to":"0091 98123 45678","channel":"sms"}"#).problemCode == "destination_locked")
            #expect(try await client.post("/v1/verifications", #"{"to":"+91981234567\u03018","channel":"sms"}"#).problemCode == "invalid_field")
        }
    }

    @Test(arguments: Backend.available) func anAddressIsLimitedDeliveredToAndSignedInItsCanonicalForm(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let spellings = ["jdoe@gmail.com", "J.Doe@gmail.com", "JDOE+otp@GMAIL.COM", "j.doe+x@googlemail.com", "jdoe@GMail.com"]
            var ids: [String] = []
            for spelling in spellings {
                let r = try await client.post("/v1/verifications", #"{"to":"\#(spelling)","channel":"email"}"#)
                #expect(r.status == .created, "\(spelling)")
                ids.append(try #require(r.string("id")))
            }
            // Five starts to one mailbox: the sixth spelling is refused by the per-destination limit.
            #expect(try await client.post("/v1/verifications", #"{"to":"jd.oe+y@gmail.com","channel":"email"}"#).problemCode == "rate_limited")
            await h.deliver()
            #expect(Set(h.sender.messages.map(\.destination)) == ["jdoe@gmail.com"])
            let last = try #require(ids.last)
            let checked = try await client.check(last, try #require(h.sender.code(for: last)))
            let token = try #require(checked.string("token"))
            let introspected = try await client.post("/v1/tokens/verify", #"{"token":"\#(token)"}"#)
            guard case .object(let claims)? = introspected["claims"] else {
                Issue.record("no claims")
                return
            }
            #expect(claims["email"] == .string("jdoe@gmail.com"))
        }
    }
}
