import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateProfiles
@testable import OTPGateServer

/// The Eko mobile OTP profile end to end, on both backends.
@Suite(.timeLimit(.minutes(5))) struct EkoProfileTests {
    static let send = #"{"initiator_id":"9962981729","csp_id":"CSP001","mobile":"9002336768","client_ref_id":"211101129871"}"#

    func user(_ h: Harness, tenantID: String? = nil) async throws -> EkoUser {
        try EkoUser(
            await h.vendorCredential("eko", tenantID: tenantID, options: .init(initiatorID: EkoUser.initiatorID)), clock: h.clock)
    }

    @Test func theDocumentedSignatureVectors() {
        #expect(
            EkoSignature.secretKey(accessKey: "TEST_ACCESS_KEY_DO_NOT_USE", timestamp: "1700000000000")
                == "u30ak/iOGwKCaspqCeiYng8fd98QDx7kF3DBBOadQHk=")
        #expect(
            EkoSignature.secretKey(accessKey: "test-access-key-123", timestamp: "1700000000000") == "88lqTf9ew69XbVbeczjxVL8/B4vibfp1MvTi1mIj2Xo=")
        #expect(EkoUser.signature(accessKey: "test-access-key-123", timestamp: "1700000000000") == "88lqTf9ew69XbVbeczjxVL8/B4vibfp1MvTi1mIj2Xo=")
    }

    @Test func otpExpiryIsWrittenAsJavaWritesItInIST() {
        // 2026-05-22T10:34:04Z is 16:04:04 in India, a Friday.
        #expect(JavaDate.ist(Timestamp(milliseconds: 1_779_446_044_000)) == "Fri May 22 16:04:04 IST 2026")
        #expect(JavaDate.ist(Timestamp(milliseconds: 0)) == "Thu Jan 01 05:30:00 IST 1970")
        #expect(JavaDate.ist(Timestamp(milliseconds: 951_825_600_000)) == "Tue Feb 29 17:30:00 IST 2000")
    }

    @Test(arguments: Backend.available) func sendVerifyAndValidateTheToken(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let eko = try await user(h)
        try await h.test { client in
            let sent = try await client.eko(.post, "", Self.send, headers: eko.headers())
            #expect(sent.status == .ok)
            #expect(sent.ekoStatus == 0)
            #expect(sent.int("response_type_id") == 1623)
            #expect(sent.string("message") == "OTP has been sent")
            #expect(sent.dataString("client_ref_id") == "211101129871")
            #expect(sent.dataString("initiator_id") == EkoUser.initiatorID)
            #expect(sent.dataString("otp_expiry_timestamp") == JavaDate.ist(h.clock.now() + .seconds(h.engine.defaultPolicy.defaultTTLSeconds)))
            #expect(sent.dataString("tid")?.count == 10)
            let code = try await h.lastCode()
            #expect(h.sender.messages.last?.destination == "+919002336768")

            let wrong = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(wrongCode(for: code))","mobile":"9002336768"}"#,
                headers: eko.headers(offset: 1))
            #expect(wrong.status == .ok)
            #expect(wrong.json == ekoVerificationFailed)

            let verified = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(code)","mobile":"9002336768","client_ref_id":"verify-ref-1"}"#,
                headers: eko.headers(offset: 2))
            #expect(verified.ekoStatus == 0)
            #expect(verified.int("response_type_id") == 1632)
            #expect(verified.string("message") == "OTP verification successful.")
            #expect(verified.dataString("client_ref_id") == "verify-ref-1")
            #expect(verified.dataString("mobile") == "9002336768")
            let token = try #require(verified.dataString("otp_verification_token"))
            let header = try #require(Data(base64URLEncoded: String(token.split(separator: ".")[0])))
            #expect(String(decoding: header, as: UTF8.self).contains(#""typ":"JWT""#))

            let query = "?initiator_id=9962981729&otp_verification_token=\(token)"
            let valid = try await client.eko(.get, "/validate-token" + query, headers: eko.headers(offset: 3))
            #expect(valid.ekoStatus == 0)
            #expect(valid.int("response_type_id") == 1633)
            #expect(valid.string("message") == "OTP verification token is valid.")
            #expect(valid.dataString("mobile") == "9002336768")
            #expect(valid.dataString("tid") == verified.dataString("tid"))

            let tampered = String(token.dropLast(4)) + (token.hasSuffix("AAAA") ? "BBBB" : "AAAA")
            let invalid = try await client.eko(
                .get, "/validate-token?initiator_id=9962981729&otp_verification_token=\(tampered)", headers: eko.headers(offset: 4))
            #expect(
                invalid.json
                    == .object([
                        "status": .int(1), "response_status_id": .int(1), "response_type_id": .int(1634),
                        "message": .string("The OTP verification token is invalid."),
                    ]))

            // Five minutes on, the token has timed out.
            h.clock.advance(.seconds(301))
            let late = try await client.eko(.get, "/validate-token" + query, headers: eko.headers())
            #expect(
                late.json
                    == .object([
                        "status": .int(1), "response_status_id": .int(1), "response_type_id": .int(1634),
                        "message": .string("The OTP verification token has timed out."),
                    ]))

            // The verified OTP is spent: the same code fails, and a send starts a new one.
            let again = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(code)","mobile":"9002336768"}"#, headers: eko.headers(offset: 5))
            #expect(again.json == ekoVerificationFailed)
            let before = h.sender.messages.count
            #expect(try await client.eko(.post, "", Self.send, headers: eko.headers(offset: 6)).ekoStatus == 0)
            await h.deliver()
            #expect(h.sender.messages.count == before + 1)
        }
    }

    /// The proof token is published like the native token (one JWKS), and neither passes as the other.
    @Test func theProofTokenAndTheNativeTokenAreNotInterchangeable() async throws {
        let h = try await Harness.make()
        let eko = try await user(h)
        try await h.test { client in
            _ = try await client.eko(.post, "", Self.send, headers: eko.headers())
            let code = try await h.lastCode()
            let verified = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(code)","mobile":"9002336768"}"#, headers: eko.headers(offset: 1))
            let token = try #require(verified.dataString("otp_verification_token"))
            let headerBytes = try #require(Data(base64URLEncoded: String(token.split(separator: ".")[0])))
            let kid = try #require(try JSONParser.parse(Array(headerBytes)).member("kid"))
            let jwks = try await client.get("/.well-known/jwks.json", key: .some(nil))
            #expect(jwks.json.flatMap { $0.member("keys") }.map { "\($0)" }?.contains("\(kid)") == true)

            let native = try await client.post("/v1/tokens/verify", #"{"token":"\#(token)"}"#)
            #expect(native["valid"] == .bool(false))

            let id = try await client.start()
            let nativeToken = try #require(try await client.check(id, try await h.lastCode()).string("token"))
            let refused = try await client.eko(
                .get, "/validate-token?initiator_id=9962981729&otp_verification_token=\(nativeToken)", headers: eko.headers(offset: 2))
            #expect(refused.string("message") == "The OTP verification token is invalid.")
        }
    }

    @Test(arguments: Backend.available) func forgedStaleAndReplayedSignaturesAreRefused(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let eko = try await user(h)
        @Sendable func forbidden(_ status: Int, _ message: String) -> JSONValue {
            .object([
                "status": .int(Int64(status)), "response_status_id": .int(-1), "response_type_id": .int(-1),
                "message": .string("Forbidden: " + message),
                "data": .object([:]),
            ])
        }
        try await h.test { client in
            let forged = try await client.eko(.post, "", Self.send, headers: eko.headers(signature: "u30ak/iOGwKCaspqCeiYng8fd98QDx7kF3DBBOadQHk="))
            #expect(forged.status == .forbidden)
            #expect(forged.json == forbidden(2484, "invalid secret-key"))
            #expect(forged.headers[.contentType] == "application/json")

            let stale = try await client.eko(.post, "", Self.send, headers: eko.headers(offset: -121_000))
            #expect(stale.status == .forbidden)
            #expect(stale.json == forbidden(2485, "secret-key-timestamp is more than 2 minutes from the server's time"))
            let ahead = try await client.eko(.post, "", Self.send, headers: eko.headers(offset: 121_000))
            #expect(ahead.ekoStatus == 2485)
            let edge = try await client.eko(.post, "", Self.send, headers: eko.headers(offset: -120_000))
            #expect(edge.ekoStatus == 0)

            var unknown = eko.headers(offset: 1)
            unknown[HTTPField.Name("developer_key")!] = "0123456789abcdef0123456789abcdef"
            #expect(try await client.eko(.post, "", Self.send, headers: unknown).json == forbidden(2483, "invalid developer_key"))
            var missing = eko.headers(offset: 2)
            missing[HTTPField.Name("secret-key")!] = nil
            #expect(try await client.eko(.post, "", Self.send, headers: missing).ekoStatus == 2487)
            var noKey = eko.headers(offset: 2)
            noKey[HTTPField.Name("developer_key")!] = nil
            #expect(try await client.eko(.post, "", Self.send, headers: noKey).ekoStatus == 2487)
            let seconds = String(h.clock.now().seconds)
            var inSeconds = eko.headers()
            inSeconds[HTTPField.Name("secret-key-timestamp")!] = seconds
            inSeconds[HTTPField.Name("secret-key")!] = EkoUser.signature(accessKey: eko.accessKey, timestamp: seconds)
            #expect(try await client.eko(.post, "", Self.send, headers: inSeconds).ekoStatus == 2486)
        }

        // A request replayed as it was sent is refused, here and on another instance; nothing is sent again.
        h.clock.advance(.seconds(600))
        let signed = eko.headers()
        let verify = #"{"initiator_id":"9962981729","otp":"123456","mobile":"9876543210"}"#
        try await h.test { client in
            #expect(try await client.eko(.put, "/verify", verify, headers: signed).json == ekoVerificationFailed)
            let replay = try await client.eko(.put, "/verify", verify, headers: signed)
            #expect(replay.status == .forbidden)
            #expect(replay.json == forbidden(2485, "this signed request was already received (replay)"))
            // The same signature over another body is another request.
            let other = #"{"initiator_id":"9962981729","otp":"654321","mobile":"9876543210"}"#
            #expect(try await client.eko(.put, "/verify", other, headers: signed).json == ekoVerificationFailed)
        }
        // A replayed send, whether it would start a new OTP or resend a pending one, is refused before anything is sent.
        let sendSigned = eko.headers(offset: 7)
        let other = #"{"initiator_id":"9962981729","csp_id":"C","mobile":"9123456780"}"#
        try await h.test { client in
            #expect(try await client.eko(.post, "", other, headers: sendSigned).ekoStatus == 0)
            await h.deliver()
            let sent = h.sender.messages.count
            #expect(try await client.eko(.post, "", other, headers: sendSigned).ekoStatus == 2485)
            h.clock.advance(.seconds(h.engine.defaultPolicy.resendCooldownSeconds))
            let resend = try await client.eko(.post, "", other, headers: eko.headers(offset: 8))
            #expect(resend.ekoStatus == 0)
            #expect(try await client.eko(.post, "", other, headers: eko.headers(offset: 8)).ekoStatus == 2485)
            await h.deliver()
            #expect(h.sender.messages.count == sent + 1)
        }
        let second = try await ServerRuntime.make(
            settings: h.runtime.settings, store: h.store,
            dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 7), sender: h.sender, runBackgroundServices: false))
        try await Harness.test(runtime: second, apiKey: h.apiKey) { (client: TestClient) async throws in
            #expect(try await client.eko(.put, "/verify", verify, headers: signed).status == .forbidden)
            #expect(try await client.eko(.post, "", other, headers: sendSigned).status == .forbidden)
        }
        // Once its timestamp is out of the window, a stored request is swept (and would be refused as stale anyway).
        h.clock.advance(.seconds(121))
        _ = try await h.store.sweep(SweepDecider.plan(now: h.clock.now(), retention: .seconds(86_400)))
        try await h.test { (client: TestClient) async throws in
            #expect(try await client.eko(.put, "/verify", verify, headers: signed).ekoStatus == 2485)
        }
    }

    @Test func invalidInputGetsEkosEnvelopeNever500() async throws {
        let h = try await Harness.make()
        let eko = try await user(h)
        try await h.test { client in
            var offset: Int64 = 0
            func next() -> HTTPFields {
                offset += 1
                return eko.headers(offset: offset)
            }
            let noCSP = try await client.eko(.post, "", #"{"initiator_id":"9962981729","mobile":"9002336768"}"#, headers: next())
            #expect(
                noCSP.json
                    == .object([
                        "status": .int(461), "response_status_id": .int(1), "response_type_id": .int(-1), "message": .string("Invalid parameters"),
                        "invalid_params": .object(["csp_id": .string("csp_id is required")]), "data": .object([:]),
                    ]))
            let badMobile = try await client.eko(.post, "", #"{"initiator_id":"9962981729","csp_id":"C","mobile":"12345"}"#, headers: next())
            #expect(badMobile.ekoStatus == 461)
            #expect(badMobile["invalid_params"]?.member("mobile") != nil)
            let longRef = String(repeating: "a", count: 37)
            let tooLong = try await client.eko(
                .post, "", #"{"initiator_id":"9962981729","csp_id":"C","mobile":"9002336768","client_ref_id":"\#(longRef)"}"#, headers: next())
            #expect(tooLong["invalid_params"]?.member("client_ref_id") != nil)
            let otherInitiator = try await client.eko(
                .post, "", #"{"initiator_id":"9000000000","csp_id":"C","mobile":"9002336768"}"#, headers: next())
            #expect(
                otherInitiator.json
                    == .object([
                        "status": .int(319), "response_status_id": .int(1), "response_type_id": .int(-1), "message": .string("Invalid initiator_id"),
                        "data": .object([:]),
                    ]))
            let malformed = try await client.eko(.post, "", #"{"initiator_id":"#, headers: next())
            #expect(malformed.status == .badRequest)
            #expect(malformed.string("message") == "Malformed request body")
            let text = try await client.eko(.post, "", "initiator_id=9962981729", headers: eko.headers(offset: 100, contentType: "text/plain"))
            #expect(text.status.code == 415)
            #expect(text.ekoStatus == 415)
            let nested = try await client.eko(.post, "", #"{"initiator_id":"9962981729","csp_id":{"a":1},"mobile":"9002336768"}"#, headers: next())
            #expect(nested["invalid_params"]?.member("csp_id") != nil)
            let unknownPath = try await client.raw(.post, "/ekoapi/v3/tools/kyc/mobile/otp/nothing", headers: next())
            #expect(unknownPath.status == .notFound)
            #expect(unknownPath.ekoStatus == 404)
            let wrongMethod = try await client.raw(.delete, "/ekoicici/v3/tools/kyc/mobile/otp", headers: next())
            #expect(wrongMethod.json != nil)
            #expect(wrongMethod.status.code >= 400 && wrongMethod.status.code < 500)
            let big = try await client.eko(.post, "", "{\"x\":\"" + String(repeating: "a", count: 70_000) + "\"}", headers: next())
            #expect(big.status.code == 413)
            #expect(big.json != nil)
        }
    }

    /// A second send while the OTP is pending is the engine's resend: refused inside its cooldown in Eko's envelope, then a
    /// new code that replaces the old one.
    @Test func aSecondSendIsAResendWithItsCooldown() async throws {
        let h = try await Harness.make()
        let eko = try await user(h)
        try await h.test { client in
            _ = try await client.eko(.post, "", Self.send, headers: eko.headers())
            let first = try await h.lastCode()
            let soon = try await client.eko(.post, "", Self.send, headers: eko.headers(offset: 1))
            #expect(soon.status == .tooManyRequests)
            #expect(soon.headers[.retryAfter] != nil)
            #expect(soon.ekoStatus == 429)
            #expect(soon.string("message")?.hasPrefix("OTP already sent. Please wait ") == true)
            h.clock.advance(.seconds(h.engine.defaultPolicy.resendCooldownSeconds))
            let resent = try await client.eko(.post, "", Self.send, headers: eko.headers())
            #expect(resent.ekoStatus == 0)
            let second = try await h.lastCode()
            #expect(h.sender.messages.count == 2)
            if first != second {
                let old = try await client.eko(
                    .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(first)","mobile":"9002336768"}"#, headers: eko.headers(offset: 1))
                #expect(old.json == ekoVerificationFailed)
            }
            let ok = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(second)","mobile":"9002336768"}"#, headers: eko.headers(offset: 2))
            #expect(ok.ekoStatus == 0)
        }
    }

    /// Tenants do not see each other's OTPs: another tenant's Eko user cannot verify this one's code for the same mobile.
    @Test func anotherTenantsCredentialCannotVerify() async throws {
        let h = try await Harness.make()
        let eko = try await user(h)
        let other = try await h.makeTenant("other")
        let theirs = try await user(h, tenantID: other.tenant.id)
        try await h.test { client in
            _ = try await client.eko(.post, "", Self.send, headers: eko.headers())
            let code = try await h.lastCode()
            let foreign = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(code)","mobile":"9002336768"}"#, headers: theirs.headers(offset: 1))
            #expect(foreign.json == ekoVerificationFailed)
            // A key signed with another credential's access key is forged for this one.
            var crossed = eko.headers(offset: 2)
            crossed[HTTPField.Name("secret-key")!] = EkoUser.signature(
                accessKey: theirs.accessKey, timestamp: crossed[HTTPField.Name("secret-key-timestamp")!]!)
            #expect(try await client.eko(.post, "", Self.send, headers: crossed).ekoStatus == 2484)
        }
    }

    /// Concurrent first sends to one mobile make one OTP: one wins the session's restart (written with its start), the
    /// others go on with its session and are inside its cooldown.
    @Test(arguments: Backend.available) func concurrentFirstSendsMakeOneOTP(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let eko = try await user(h)
        try await h.test { client in
            let statuses = try await withThrowingTaskGroup(of: Int?.self) { group in
                for i in 1...8 {
                    group.addTask { try await client.eko(.post, "", Self.send, headers: eko.headers(offset: Int64(i))).ekoStatus }
                }
                return try await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 0 }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == 429 }.count == 7, "\(statuses)")
            await h.deliver()
            #expect(h.sender.messages.count == 1)
        }
    }

    /// A first send refused by the engine (here the mobile's start limit) still records its signed request: sent again
    /// inside its window it is a replay, on both backends, and nothing is sent.
    @Test(arguments: Backend.available) func aRefusedFirstSendIsNotReplayable(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let eko = try await user(h)
        try await h.test { client in
            for _ in 0..<h.engine.defaultPolicy.startsPerDestination { _ = try await client.start(to: "+919002336768") }
            await h.deliver()
            let sent = h.sender.messages.count
            let signed = eko.headers()
            let refused = try await client.eko(.post, "", Self.send, headers: signed)
            #expect(refused.status == .tooManyRequests)
            h.clock.advance(.seconds(h.engine.defaultPolicy.startWindowSeconds / 10))
            #expect(try await client.eko(.post, "", Self.send, headers: signed).ekoStatus == 2485)
            await h.deliver()
            #expect(h.sender.messages.count == sent)
        }
    }

    /// Wrong codes guessed concurrently are counted exactly: the OTP takes `maxAttempts` checks, then no more.
    @Test(arguments: Backend.available) func concurrentWrongCodesAreCountedExactly(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let eko = try await user(h)
        let maxAttempts = h.engine.defaultPolicy.defaultMaxAttempts
        try await h.test { client in
            _ = try await client.eko(.post, "", Self.send, headers: eko.headers())
            let code = try await h.lastCode()
            let wrong = wrongCode(for: code)
            let statuses = try await withThrowingTaskGroup(of: Int?.self) { group in
                for i in 1...20 {
                    group.addTask {
                        try await client.eko(
                            .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(wrong)","mobile":"9002336768"}"#,
                            headers: eko.headers(offset: Int64(i))
                        ).ekoStatus
                    }
                }
                return try await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 1 })
            let id = EkoMobileOTP(services: h.runtime.profiles).sessionID(initiator: EkoUser.initiatorID, mobile: "9002336768", tenantID: h.tenant.id)
            let session = try await ProfileFlow(services: h.runtime.profiles, profile: "eko").session(id, kinds: ["mobile"], principal: h.principal)
            let v = try await h.engine.verification(id: try #require(session?.verificationID), principal: h.principal)
            #expect(v.attempts == maxAttempts)
            let right = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(code)","mobile":"9002336768"}"#, headers: eko.headers(offset: 99))
            #expect(right.json == ekoVerificationFailed)
        }
    }
}

extension Data {
    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        self.init(base64Encoded: base64)
    }
}
