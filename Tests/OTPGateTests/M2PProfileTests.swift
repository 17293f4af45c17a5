import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateProfiles
@testable import OTPGateServer

/// The M2P prepaid OTP profile end to end, on both backends.
@Suite(.timeLimit(.minutes(5))) struct M2PProfileTests {
    static let tenantHeader = HTTPField.Name("X-TENANT-ID")!
    static let requestID = HTTPField.Name("X-Request-ID")!
    static let generate = "/prepaid/customer/v1/otp/generate"
    static let validate = "/prepaid/customer/v1/otp/validate-otp"
    static let problemType: JSONValue = .string("https://www.m2pfintech.com/problem/problem-with-message")

    struct Client {
        let id: String
        let secret: String
        let tenant: String
    }

    func m2p(_ h: Harness, tenantID: String? = nil, separate: Bool = false) async throws -> Client {
        let created = try await h.vendorCredential("m2p", tenantID: tenantID, options: .init(separateDualCodes: separate))
        return Client(
            id: try #require(created.field("client_id")), secret: try #require(created.field("client_secret")),
            tenant: try #require(created.field("x_tenant_id")))
    }

    func token(_ client: TestClient, _ m: Client) async throws -> String {
        let issued = try await client.post(
            "/auth/token", #"{"clientId":"\#(m.id)","clientSecret":"\#(m.secret)","grantType":"client_credentials"}"#, key: .some(nil))
        #expect(issued.status == .ok)
        #expect(issued.string("token_type") == "Bearer")
        #expect(issued.int("expires_in") == 3600)
        return try #require(issued.string("access_token"))
    }

    func headers(_ m: Client, requestID: String? = nil) -> HTTPFields {
        var fields: HTTPFields = [Self.tenantHeader: m.tenant]
        if let requestID { fields[Self.requestID] = requestID }
        return fields
    }

    static func business(_ status: Int, _ title: String, _ code: String) -> JSONValue {
        .object([
            "type": problemType, "title": .string(title), "status": .int(Int64(status)), "detail": .string(title),
            "message": .string("error.business"), "businessCode": .string(code),
        ])
    }

    static let unconvertible: JSONValue = .object([
        "type": problemType, "title": .string("Bad Request"), "status": .int(400), "detail": .string("Unable to convert http message"),
        "message": .string("error.http.400"),
    ])

    @Test(arguments: Backend.available) func generateValidateAndCheckTheMessageHash(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        let m = try await m2p(h)
        try await h.test { client in
            let bearer = try await token(client, m)
            let generated = try await client.post(
                Self.generate,
                #"{"mobileNumber":"9000000004","otpType":"S","template":"OTP","entityId":"ENT001","productId":"HKfXwH9uph","card":"0016","countryCode":91}"#,
                key: bearer, headers: headers(m))
            #expect(generated.status == .ok)
            #expect(generated["pagination"] == .null)
            let result = try #require(generated["result"])
            #expect(result.member("status") == .bool(true))
            #expect(result.member("refNumber") == .string(""))
            guard case .string(let trace)? = result.member("traceNumber") else { throw TestFailure("no traceNumber") }
            #expect(trace.count == 36 && trace.split(separator: "-").count == 5)
            let code = try await h.lastCode()
            #expect(h.sender.messages.last?.destination == "+919000000004")

            let wrong = try await client.post(
                Self.validate, #"{"traceNumber":"\#(trace)","mobileOtp":"\#(wrongCode(for: code))","otpType":"SINGLE_OTP_MOBILE"}"#, key: bearer,
                headers: headers(m))
            #expect(wrong.status.code == 409)
            #expect(wrong.headers[.contentType] == "application/problem+json")
            #expect(wrong.json == Self.business(409, "Invalid OTP", "OTP_002"))

            let ok = try await client.post(
                Self.validate,
                #"{"traceNumber":"\#(trace)","refNumber":"68bff8eb7eedcd247cf46204","mobileOtp":"\#(code)","otpType":"SINGLE_OTP_MOBILE","mobile":{"value":"9000000004","countryCode":91}}"#,
                key: bearer, headers: headers(m))
            #expect(ok.status == .ok)
            #expect(ok["result"]?.member("refNumber") == .string("68bff8eb7eedcd247cf46204"))
            guard case .string(let hash)? = ok["result"]?.member("messageHash") else { throw TestFailure("no messageHash") }
            #expect(hash.count == 64 && hash.allSatisfy { "0123456789ABCDEF".contains($0) })

            let again = try await client.post(Self.validate, #"{"traceNumber":"\#(trace)","mobileOtp":"\#(code)"}"#, key: bearer, headers: headers(m))
            #expect(again.json == Self.business(409, "OTP already validated", "OTP_006"))

            // The tenant's backend checks the hash with its native API key.
            let checked = try await client.post("/v1/profiles/m2p/message-hash", #"{"trace_number":"\#(trace)","message_hash":"\#(hash)"}"#)
            #expect(checked["valid"] == .bool(true))
            #expect(checked.string("ref_number") == "68bff8eb7eedcd247cf46204")
            let lower = try await client.post(
                "/v1/profiles/m2p/message-hash", #"{"trace_number":"\#(trace)","message_hash":"\#(hash.lowercased())"}"#)
            #expect(lower["valid"] == .bool(true))
            let forged = String(hash.dropLast()) + (hash.hasSuffix("0") ? "1" : "0")
            let bad = try await client.post("/v1/profiles/m2p/message-hash", #"{"trace_number":"\#(trace)","message_hash":"\#(forged)"}"#)
            #expect(bad.json == .object(["valid": .bool(false)]))
            let other = try await h.makeTenant("other")
            let foreign = try await client.post(
                "/v1/profiles/m2p/message-hash", #"{"trace_number":"\#(trace)","message_hash":"\#(hash)"}"#, key: other.apiKey)
            #expect(foreign.json == .object(["valid": .bool(false)]))
            let profileKey = try await client.post(
                "/v1/profiles/m2p/message-hash", #"{"trace_number":"\#(trace)","message_hash":"\#(hash)"}"#, key: bearer)
            #expect(profileKey.status == .unauthorized)
            let extra = try await client.post("/v1/profiles/m2p/message-hash", #"{"trace_number":"\#(trace)","message_hash":"x","x":1}"#)
            #expect(extra.problemCode == "unknown_field")
        }
    }

    /// A `D` generate is one verification delivered to the mobile and the email: one code to both (`SINGLE_OTP_DUAL`).
    @Test(arguments: Backend.available) func aDualOTPWithOneCodeGoesToBoth(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        let m = try await m2p(h)
        try await h.test { client in
            let bearer = try await token(client, m)
            let generated = try await client.post(Self.generate, #"{"kitNo":"kit0001","otpType":"D"}"#, key: bearer, headers: headers(m))
            guard case .string(let trace)? = generated["result"]?.member("traceNumber") else {
                throw TestFailure("\(String(describing: generated.json))")
            }
            await h.deliver()
            let sent = h.sender.messages.suffix(2)
            #expect(Set(sent.map(\.destination)) == ["+919000000004", "cust@example.com"])
            let codes = sent.map { String($0.text.prefix { $0.isNumber }) }
            #expect(codes[0] == codes[1])
            let mismatch = try await client.post(
                Self.validate, #"{"traceNumber":"\#(trace)","mobileOtp":"\#(codes[0])","otpType":"DIFFERENT_OTP_DUAL","emailOtp":"\#(codes[0])"}"#,
                key: bearer, headers: headers(m))
            #expect(mismatch.status == .badRequest)
            let ok = try await client.post(
                Self.validate, #"{"traceNumber":"\#(trace)","mobileOtp":"\#(codes[0])","otpType":"SINGLE_OTP_DUAL"}"#, key: bearer,
                headers: headers(m))
            #expect(ok["result"]?.member("status") == .bool(true))
        }
    }

    /// `DIFFERENT_OTP_DUAL`: a code each; both must be right, and a validation with either wrong counts one attempt.
    @Test(arguments: Backend.available) func aDualOTPWithACodeEachNeedsBoth(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        let m = try await m2p(h, separate: true)
        try await h.test { client in
            let bearer = try await token(client, m)
            let generated = try await client.post(Self.generate, #"{"entityId":"ENT001","otpType":"D"}"#, key: bearer, headers: headers(m))
            guard case .string(let trace)? = generated["result"]?.member("traceNumber") else {
                throw TestFailure("\(String(describing: generated.json))")
            }
            await h.deliver()
            let sent = h.sender.messages.suffix(2)
            let mobile = try #require(sent.first { $0.destination.hasPrefix("+91") }).text.prefix { $0.isNumber }
            let email = try #require(sent.first { $0.destination.contains("@") }).text.prefix { $0.isNumber }
            func validate(_ mobileOTP: Substring, _ emailOTP: Substring?) async throws -> APIResponse {
                let emailPart = emailOTP.map { #","emailOtp":"\#($0)""# } ?? ""
                return try await client.post(
                    Self.validate, #"{"traceNumber":"\#(trace)","mobileOtp":"\#(mobileOTP)","otpType":"DIFFERENT_OTP_DUAL"\#(emailPart)}"#,
                    key: bearer,
                    headers: headers(m))
            }
            #expect(try await validate(mobile, nil).status == .badRequest)
            #expect(try await validate(mobile, Substring(wrongCode(for: String(email)))).json == Self.business(409, "Invalid OTP", "OTP_002"))
            if mobile != email { #expect(try await validate(email, mobile).json == Self.business(409, "Invalid OTP", "OTP_002")) }
            let verification = try await h.engine.verification(id: try #require(try await sessionVerification(h, trace)), principal: h.principal)
            #expect(verification.attempts == (mobile != email ? 2 : 1))
            #expect(verification.companion == Destination(unchecked: "cust@example.com", channel: .email))
            let ok = try await validate(mobile, email)
            #expect(ok["result"]?.member("status") == .bool(true))
        }
    }

    /// The verification a trace names (the same 16 bytes).
    func sessionVerification(_ h: Harness, _ trace: String) async throws -> String? {
        Trace(number: trace)?.verificationID
    }

    /// Three validations per OTP: the fourth is M2P's PP_MIDD_034, even with the right code.
    @Test func aFourthValidationIsRefused() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let m = try await m2p(h)
        try await h.test { client in
            let bearer = try await token(client, m)
            let generated = try await client.post(Self.generate, #"{"mobileNumber":"9000000004"}"#, key: bearer, headers: headers(m))
            guard case .string(let trace)? = generated["result"]?.member("traceNumber") else { throw TestFailure("no trace") }
            let code = try await h.lastCode()
            for _ in 0..<3 {
                let wrong = try await client.post(
                    Self.validate, #"{"traceNumber":"\#(trace)","mobileOtp":"\#(wrongCode(for: code))"}"#, key: bearer, headers: headers(m))
                #expect(wrong.json == Self.business(409, "Invalid OTP", "OTP_002"))
            }
            let fourth = try await client.post(
                Self.validate, #"{"traceNumber":"\#(trace)","mobileOtp":"\#(code)"}"#, key: bearer, headers: headers(m))
            #expect(fourth.json == Self.business(409, "Otp Validation is not allowed more than 3 times in 24hrs", "PP_MIDD_034"))
        }
    }

    /// Validations guessed concurrently are counted exactly: three are judged, the rest refused.
    @Test(arguments: Backend.available) func concurrentValidationsAreCountedExactly(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        let m = try await m2p(h)
        try await h.test { client in
            let bearer = try await token(client, m)
            let generated = try await client.post(Self.generate, #"{"entityId":"ENT001"}"#, key: bearer, headers: headers(m))
            guard case .string(let trace)? = generated["result"]?.member("traceNumber") else { throw TestFailure("no trace") }
            let wrong = wrongCode(for: try await h.lastCode())
            let codes = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let answer = try await client.post(
                            Self.validate, #"{"traceNumber":"\#(trace)","mobileOtp":"\#(wrong)"}"#, key: bearer, headers: headers(m))
                        return answer.string("businessCode")
                    }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(codes.filter { $0 == "OTP_002" }.count == 3)
            #expect(codes.filter { $0 == "PP_MIDD_034" }.count == 17)
        }
    }

    /// `X-Request-ID` makes a generate idempotent, on any instance: the repeat gets the first answer and sends nothing.
    @Test(arguments: Backend.available) func aRepeatedRequestIDReturnsTheFirstAnswer(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        let m = try await m2p(h)
        let body = #"{"entityId":"ENT001","otpType":"S"}"#
        let second = try await ServerRuntime.make(
            settings: h.runtime.settings, store: h.store,
            dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 9), sender: h.sender, runBackgroundServices: false))
        try await h.test { client in
            let bearer = try await token(client, m)
            let first = try await client.post(Self.generate, body, key: bearer, headers: headers(m, requestID: "req-1")).json
            #expect(first?.member("result")?.member("status") == .bool(true))
            let repeated = try await client.post(Self.generate, body, key: bearer, headers: headers(m, requestID: "req-1"))
            #expect(repeated.json == first)
            let other = try await client.post(
                Self.generate, #"{"entityId":"ENT001","otpType":"D"}"#, key: bearer, headers: headers(m, requestID: "req-1"))
            #expect(other.status.code == 409)
            #expect(other.string("businessCode") == "IDEMPOTENCY_KEY_REUSED")
            try await Harness.test(runtime: second, apiKey: h.apiKey) { (elsewhere: TestClient) async throws in
                let answer = try await elsewhere.post(Self.generate, body, key: bearer, headers: headers(m, requestID: "req-1"))
                #expect(answer.json == first)
            }
        }
        await h.deliver()
        #expect(h.sender.messages.count == 1)
    }

    @Test func customersAreFoundByEntityKitOrMobileAndMustAgree() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        try await h.importRecords(#"{"kind":"customer","keys":{"entity_id":"ENT002","mobile":"9000000005","kit_no":"KIT-0002"}}"#)
        let m = try await m2p(h)
        try await h.test { client in
            let bearer = try await token(client, m)
            func generate(_ body: String) async throws -> APIResponse { try await client.post(Self.generate, body, key: bearer, headers: headers(m)) }
            #expect(try await generate(#"{"kitNo":"KIT-0001"}"#).status == .ok)
            #expect(try await generate(#"{"mobileNumber":9000000004,"countryCode":"91"}"#).status == .ok)
            let noAccount = Self.business(409, "No account found", "PP_MIDD_027")
            #expect(try await generate(#"{"entityId":"ENT001","mobileNumber":"9000000001"}"#).json == noAccount)
            #expect(try await generate(#"{"entityId":"ENT001","kitNo":"KIT9"}"#).json == noAccount)
            // Two customers that exist, but not the same one.
            #expect(try await generate(#"{"entityId":"ENT001","kitNo":"KIT-0002"}"#).json == noAccount)
            #expect(try await generate(#"{"kitNo":"KIT-0001","mobileNumber":"9000000005"}"#).json == noAccount)
            #expect(try await generate(#"{"entityId":"ENT002"}"#).status == .ok)
            #expect(try await generate(#"{"entityId":"NOPE"}"#).json == noAccount)
            let none = try await generate(#"{"otpType":"S"}"#)
            #expect(none.status == .badRequest)
            #expect(none.string("detail") == "mobileNumber is required")
            #expect(try await generate(#"{"entityId":"ENT001","otpType":"X"}"#).string("detail") == "otpType must be S or D")
            #expect(try await generate("{not json").json == Self.unconvertible)
            #expect(try await generate(#"["ENT001"]"#).json == Self.unconvertible)
            #expect(try await generate(#"{"entityId":{"id":"ENT001"}}"#).json == Self.unconvertible)
            #expect(try await generate(#"{"entityId":"ENT001","countryCode":"x"}"#).json == Self.unconvertible)
            #expect(try await client.post(Self.validate, "{}", key: bearer, headers: headers(m)).status == .badRequest)
            #expect(try await client.post(Self.validate, "nope", key: bearer, headers: headers(m)).json == Self.unconvertible)
            let unknown = try await client.post(
                Self.validate, #"{"traceNumber":"10b53ad5-9fa2-48d5-8de0-ffa9643900d9","mobileOtp":"123456"}"#, key: bearer, headers: headers(m))
            #expect(unknown.json == Self.business(409, "No OTP found for this traceNumber", "OTP_001"))
            let missingPath = try await client.post("/prepaid/customer/v1/otp/nothing", "{}", key: bearer, headers: headers(m))
            #expect(missingPath.status == .notFound)
            #expect(missingPath["type"] == Self.problemType)
        }
    }

    /// Over the engine's per-mobile start limit, generate answers M2P's documented 409 with a code of our choosing.
    @Test func generationOverTheLimitIsA409() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let m = try await m2p(h)
        try await h.test { client in
            let bearer = try await token(client, m)
            for _ in 0..<h.engine.defaultPolicy.startsPerDestination {
                #expect(try await client.post(Self.generate, #"{"entityId":"ENT001"}"#, key: bearer, headers: headers(m)).status == .ok)
            }
            let over = try await client.post(Self.generate, #"{"entityId":"ENT001"}"#, key: bearer, headers: headers(m))
            #expect(over.status.code == 409)
            #expect(over.string("businessCode") == "OTP_004")
            #expect(over.headers[.retryAfter] != nil)
        }
    }

    @Test func tokensAndTenantHeadersAreChecked() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let m = try await m2p(h)
        let other = try await h.makeTenant("other")
        let theirs = try await m2p(h, tenantID: other.tenant.id)
        try await h.test { client in
            let bearer = try await token(client, m)
            let body = #"{"entityId":"ENT001"}"#
            #expect(try await client.post(Self.generate, body, key: .some(nil), headers: headers(m)).status == .unauthorized)
            #expect(try await client.post(Self.generate, body, key: bearer + "x", headers: headers(m)).status == .unauthorized)
            #expect(try await client.post(Self.generate, body, key: bearer, headers: [:]).status == .badRequest)
            #expect(try await client.post(Self.generate, body, key: bearer, headers: headers(theirs)).status == .forbidden)
            // Another tenant's token: its customers are not this tenant's, and its X-TENANT-ID is its own.
            let theirToken = try await token(client, theirs)
            #expect(try await client.post(Self.generate, body, key: theirToken, headers: headers(m)).status == .forbidden)
            #expect(try await client.post(Self.generate, body, key: theirToken, headers: headers(theirs)).string("businessCode") == "PP_MIDD_027")
            // A native API key, a Surepass credential, the wrong secret, a mismatched client id.
            #expect(try await client.post(Self.generate, body, key: h.apiKey, headers: headers(m)).status == .unauthorized)
            let wrongSecret = try await client.post(
                "/auth/token", #"{"clientId":"\#(m.id)","clientSecret":"nope","grantType":"client_credentials"}"#, key: .some(nil))
            #expect(wrongSecret.status == .unauthorized)
            #expect(wrongSecret["type"] == Self.problemType)
            let mismatched = try await client.post(
                "/auth/token", #"{"clientId":"\#(theirs.id)","clientSecret":"\#(m.secret)","grantType":"client_credentials"}"#, key: .some(nil))
            #expect(mismatched.status == .unauthorized)
            #expect(try await client.post("/auth/token", "{", key: .some(nil)).json == Self.unconvertible)

            // Expired after an hour; revoked at once (within the key cache's lifetime).
            h.clock.advance(.seconds(3601))
            #expect(try await client.post(Self.generate, body, key: bearer, headers: headers(m)).string("detail") == "Access token expired")
            let fresh = try await token(client, m)
            #expect(try await h.store.revokeAPIKey(id: m.id, at: h.clock.now()))
            h.clock.advance(.seconds(60))
            try await waitUntil("the revocation is seen") {
                try await client.post(Self.generate, body, key: fresh, headers: headers(m)).status == .unauthorized
            }
        }
    }
}
