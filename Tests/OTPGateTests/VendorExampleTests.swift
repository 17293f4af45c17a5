import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Every request example Eko and M2P document, replayed as written (../shared/seeds, vendor-apis.md §4–5): each is
/// accepted, and each answer has the documented shape, member for member. No log line carries a code, a key or a mobile.
@Suite(.timeLimit(.minutes(3))) struct VendorExampleTests {
    /// The keys of an object, and of its `data` / `result` object.
    static func shape(_ value: JSONValue?) -> [String: Set<String>] {
        guard case .object(let members)? = value else { return [:] }
        var shape = ["": Set(members.keys)]
        for inner in ["data", "result"] {
            if case .object(let nested)? = members[inner] { shape[inner] = Set(nested.keys) }
        }
        return shape
    }

    @Test func ekosDocumentedExamples() async throws {
        let h = try await Harness.make()
        let logs = LogRecorder()
        let eko = try EkoUser(await h.vendorCredential("eko", options: .init(initiatorID: "9962981729")), clock: h.clock)
        try await h.test(logs: logs) { client in
            // Send OTP (vendor-apis.md §4.1): {initiator_id, client_ref_id, csp_id, mobile}.
            let sent = try await client.eko(
                .post, "", #"{"initiator_id":"9962981729","client_ref_id":"211101129871","csp_id":"CSP12345","mobile":"9002336768"}"#,
                headers: eko.headers())
            #expect(
                Self.shape(sent.json)
                    == [
                        "": ["status", "response_status_id", "response_type_id", "message", "data"],
                        "data": ["client_ref_id", "initiator_id", "otp_expiry_timestamp", "tid"],
                    ])
            #expect(sent.int("response_type_id") == 1623)
            let code = try await h.lastCode()
            // Verify OTP (the seed): {initiator_id, otp, mobile}; the failure first, with the seed's own OTP value.
            let failed = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(code == "3643" ? "3644" : "3643")","mobile":"9002336768"}"#,
                headers: eko.headers(offset: 1))
            #expect(failed.json == ekoVerificationFailed)
            let verified = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(code)","mobile":"9002336768"}"#, headers: eko.headers(offset: 2))
            #expect(
                Self.shape(verified.json)
                    == [
                        "": ["status", "response_status_id", "response_type_id", "message", "data"],
                        "data": ["client_ref_id", "otp_verification_token", "initiator_id", "mobile", "tid"],
                    ])
            let token = try #require(verified.dataString("otp_verification_token"))
            // Validate (§4.3): GET with initiator_id and otp_verification_token in the query.
            let valid = try await client.eko(
                .get, "/validate-token?initiator_id=9962981729&otp_verification_token=\(token)", headers: eko.headers(offset: 3))
            #expect(
                Self.shape(valid.json)
                    == [
                        "": ["status", "response_status_id", "response_type_id", "message", "data"],
                        "data": ["otp_verification_token", "initiator_id", "mobile", "tid"],
                    ])
            #expect(valid.string("message") == "OTP verification token is valid.")
            for (what, value) in [
                ("the code", code), ("the access key", eko.accessKey), ("the developer key", eko.developerKey),
                ("the token", token), ("the mobile", "9002336768"),
            ] {
                #expect(!logs.all.contains { "\($0.message) \($0.metadata)".contains(value) }, "\(what) appears in a log line")
            }
            #expect(!logs.all.isEmpty)
        }
    }

    @Test func m2psDocumentedExamples() async throws {
        let h = try await Harness.make()
        try await h.importRecords(
            #"{"kind":"customer","keys":{"entity_id":"615928984620006085281025","mobile":"9876543210","kit_no":"KIT0016"},"email":"card.holder@example.com"}"#
        )
        let logs = LogRecorder()
        let created = try await h.vendorCredential("m2p", options: .init(vendorTenantID: "ACME_CORP"))
        let (id, secret) = (try #require(created.field("client_id")), try #require(created.field("client_secret")))
        try await h.test(logs: logs) { client in
            // The token request of M2P's authentication page.
            let issued = try await client.post(
                "/auth/token", #"{"clientId":"\#(id)","clientSecret":"\#(secret)","grantType":"client_credentials"}"#, key: .some(nil))
            #expect(Self.shape(issued.json) == ["": ["access_token", "token_type", "expires_in"]])
            let bearer = try #require(issued.string("access_token"))
            let tenant: HTTPFields = [HTTPField.Name("X-TENANT-ID")!: "ACME_CORP"]
            // Generate OTP: the seed's curl body, as written.
            let generated = try await client.post(
                "/prepaid/customer/v1/otp/generate",
                #"{    "mobileNumber": "9876543210",    "otpType": "S",    "template": "OTP",    "entityId": "615928984620006085281025",    "productId": "HKfXwH9uph",    "card": "0016",    "countryCode": 91  }"#,
                key: bearer, headers: tenant)
            #expect(Self.shape(generated.json) == ["": ["result", "pagination"], "result": ["status", "traceNumber", "refNumber"]])
            guard case .string(let trace)? = generated["result"]?.member("traceNumber") else { throw TestFailure("no trace") }
            let code = try await h.lastCode()
            // Validate OTP: the documented example (a dual-channel type for a single OTP is refused as such), then as generated.
            let example = try await client.post(
                "/prepaid/customer/v1/otp/validate-otp",
                #"{"traceNumber":"\#(trace)","refNumber":"68bff8eb7eedcd247cf46204","mobileOtp":"\#(code)","otpType":"SINGLE_OTP_DUAL","mobile":{"value":"9876543210","countryCode":91}}"#,
                key: bearer, headers: tenant)
            #expect(example.status == .badRequest)
            let validated = try await client.post(
                "/prepaid/customer/v1/otp/validate-otp",
                #"{"traceNumber":"\#(trace)","refNumber":"68bff8eb7eedcd247cf46204","mobileOtp":"\#(code)","otpType":"SINGLE_OTP_MOBILE","mobile":{"value":"9876543210","countryCode":91}}"#,
                key: bearer, headers: tenant)
            #expect(Self.shape(validated.json) == ["": ["result", "pagination"], "result": ["status", "refNumber", "messageHash"]])
            // The documented errors: the 400 for a body that does not parse, and the 409 PP_MIDD_027.
            let unparsable = try await client.post("/prepaid/customer/v1/otp/generate", "{", key: bearer, headers: tenant)
            #expect(Self.shape(unparsable.json) == ["": ["type", "title", "status", "detail", "message"]])
            let none = try await client.post("/prepaid/customer/v1/otp/generate", #"{"mobileNumber":"9000000009"}"#, key: bearer, headers: tenant)
            #expect(Self.shape(none.json) == ["": ["type", "title", "status", "detail", "message", "businessCode"]])
            for (what, value) in [("the code", code), ("the client secret", secret), ("the access token", bearer), ("the mobile", "9876543210")] {
                #expect(!logs.all.contains { "\($0.message) \($0.metadata)".contains(value) }, "\(what) appears in a log line")
            }
        }
    }
}
