import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateServer
@testable import OTPGateTokens

/// The one JSON path on the wire: a repeated key is refused wherever it is, numbers come back exactly as they were
/// sent (in responses and in the signed token), and integer fields take only exact integers in range.
@Suite struct JSONWireTests {
    @Test(arguments: [
        (#"{"to":"+919876543210","channel":"sms","channel":"email"}"#, "channel"),
        (#"{"to":"+919876543210","to":"+919876543211","channel":"sms"}"#, "to"),
        (#"{"to":"+919876543210","channel":"sms","context":{"amount":1,"amount":2}}"#, "amount"),
        (#"{"to":"+919876543210","channel":"sms","context":{"items":[{"sku":"a","sku":"b"}]}}"#, "sku"),
    ])
    func aRepeatedKeyIs400InvalidJSONNamingIt(body: String, key: String) async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let r = try await client.post("/v1/verifications", body)
            #expect(r.status == .badRequest, "\(body)")
            #expect(r.problemCode == "invalid_json", "\(body)")
            #expect(r.headers[.contentType] == "application/problem+json")
            #expect(r.string("detail")?.contains("\"\(key)\"") == true, "\(String(describing: r.string("detail")))")
            #expect(r.string("detail")?.contains("9876543210") == false)
        }
        await h.deliver()
        #expect(h.sender.messages.isEmpty)
    }

    /// Two codes in one check must not be read as whichever one a parser happens to keep.
    @Test func aCheckWithTwoCodesIsRefusedWithoutCountingAnAttempt() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let id = try await client.start()
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            let r = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(wrongCode(for: code))","code":"\#(code)"}"#)
            #expect(r.status == .badRequest)
            #expect(r.problemCode == "invalid_json")
            #expect(try await client.get("/v1/verifications/\(id)").int("attempts_remaining") == 5)
            let token = try await client.post("/v1/tokens/verify", #"{"token":"a","token":"b"}"#)
            #expect(token.problemCode == "invalid_json")
        }
    }

    @Test(arguments: [#"{"to":"+919876543210","to":"+919876543211""#, #"{"channel":"sms","channel":"sms",}"#])
    func aSyntaxErrorIsStillMalformedJSON(body: String) async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let r = try await client.post("/v1/verifications", body)
            #expect(r.status == .badRequest)
            #expect(r.problemCode == "malformed_json")
        }
    }

    @Test(arguments: Backend.available) func contextNumbersComeBackExactlyAsSentAndIntoTheToken(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let exact = #""context":{"amount":1.50,"big":12345678901234567890,"tiny":1e-7}"#
        try await h.test { client in
            let started = try await client.raw(
                .post, "/v1/verifications",
                #"{"to":"+919876543210","channel":"sms","context":{"big": 12345678901234567890, "amount": 1.50, "tiny": 1e-7}}"#)
            #expect(started.status == .created)
            #expect(started.body.contains(exact), "\(started.body)")
            let id = try #require(started.string("id"))
            let shown = try await client.raw(.get, "/v1/verifications/\(id)")
            #expect(shown.body.contains(exact), "\(shown.body)")

            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            let checked = try await client.check(id, code)
            let token = try #require(checked.string("token"))

            // In the signed payload itself, byte for byte.
            let payload = try #require(Base64URL.decode(String(token.split(separator: ".")[1])))
            #expect(String(decoding: payload, as: UTF8.self).contains(exact))
            // And as introspection shows the claims.
            let verified = try await client.raw(.post, "/v1/tokens/verify", #"{"token":"\#(token)"}"#)
            #expect(verified.status == .ok)
            #expect(verified.body.contains(exact), "\(verified.body)")
            #expect(verified.body.contains(#""valid":true"#))
        }
    }

    @Test(arguments: [("code_length", "6.0", 6), ("code_length", "8e0", 8), ("ttl_seconds", "3e2", 300), ("max_attempts", "0.3e1", 3)])
    func anIntegerFieldTakesAnExactIntegerInAnySpelling(field: String, text: String, value: Int) async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let r = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms","\#(field)":\#(text)}"#)
            #expect(r.status == .created, "\(field): \(text)")
            if field != "ttl_seconds" { #expect(r.int(field) == value) }
        }
    }

    @Test(arguments: [
        ("code_length", "6.5"), ("code_length", "1e3"), ("code_length", "1e400"), ("code_length", "1e-400"), ("code_length", "-0"),
        ("ttl_seconds", "12345678901234567890"), ("ttl_seconds", "300.000001"), ("max_attempts", "-1e1"),
    ])
    func anIntegerFieldRefusesAnythingElseAs422(field: String, text: String) async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let r = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms","\#(field)":\#(text)}"#)
            #expect(r.status == .unprocessableContent, "\(field): \(text)")
            #expect(r.problemCode == "invalid_field")
            #expect(r.string("field") == field)
        }
        await h.deliver()
        #expect(h.sender.messages.isEmpty)
    }

    @Test func problemsWriteIntegersAsIntegers() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let id = try await client.start()
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            let r = try await client.raw(.post, "/v1/verifications/\(id)/check", #"{"code":"\#(wrongCode(for: code))"}"#)
            #expect(r.status == .unprocessableContent)
            #expect(r.body.contains(#""status":422"#) && r.body.contains(#""attempts_remaining":4"#), "\(r.body)")
        }
    }

    @Test func base64URLMatchesFoundationsBase64() {
        var random = SystemRandomNumberGenerator()
        for count in 0..<40 {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            var encoded: [UInt8] = []
            Base64URL.encode(bytes, into: &encoded)
            #expect(String(decoding: encoded, as: UTF8.self) == Data(bytes).base64URL)
            #expect(Base64URL.decode(String(decoding: encoded, as: UTF8.self)) == Data(bytes))
        }
    }
}

/// An answer as the server wrote it, for checks on the exact JSON text.
struct RawResponse {
    let status: HTTPResponse.Status
    let body: String

    /// A top-level string member, when the body is a JSON object.
    func string(_ key: String) -> String? {
        guard case .object(let members)? = try? JSONValue(parsing: body), case .string(let s)? = members[key] else { return nil }
        return s
    }
}

extension TestClient {
    func raw(_ method: HTTPRequest.Method, _ path: String, _ json: String? = nil) async throws -> RawResponse {
        var fields: HTTPFields = [.authorization: "Bearer \(apiKey)"]
        if json != nil { fields[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: fields, body: json.map { ByteBuffer(string: $0) }) { response in
            RawResponse(status: response.status, body: String(decoding: response.body.readableBytesView, as: UTF8.self))
        }
    }
}
