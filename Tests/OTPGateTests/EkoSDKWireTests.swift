import Foundation
import HTTPTypes
import HummingbirdTesting
import OTPGateCore
import Testing

@testable import OTPGateServer

/// What Eko's published SDKs put on the wire, byte for byte, sent over a real socket: each must work unchanged. The forms
/// were read from `ekoindia/eps-platform` at 774ff2f (`packages/sdk-js/src/client.ts`, the JS SDK on Node's fetch),
/// `ekoindia/eps-sdk-go` and `ekoindia/eps-sdk-java`, in both of their generations: the first sends no `client_ref_id`,
/// the second mints a fresh 15-character one for every POST and PUT (never repeating the send's) and none on the GET.
/// Header names are as each library writes them: Node lower-cases, Go canonicalises (`Developer_key`, `Secret-Key`),
/// Java keeps the code's case, sorts the headers and adds an h2c upgrade offer on `http://`.
@Suite(.timeLimit(.minutes(5))) struct EkoSDKWireTests {
    static let userCode = "20810200"

    enum SDK: String, CaseIterable, Sendable {
        case jsNodeFetch, goSecondGeneration, javaFirstGeneration
    }

    /// One request as the SDK writes it, signed now.
    func request(
        _ sdk: SDK, _ method: String, _ path: String, params: [(String, String)], eko: EkoUser, offset: Int64, port: Int, ref: String?
    ) -> String {
        let timestamp = String(eko.clock.now().milliseconds + offset)
        let signature = EkoUser.signature(accessKey: eko.accessKey, timestamp: timestamp)
        var params = params
        if let ref, method != "GET" { params.append(("client_ref_id", ref)) }
        let sorted = params.sorted { $0.0 < $1.0 }
        let ordered = sdk == .jsNodeFetch ? params : sorted
        let target = "/ekoapi/v3/tools/kyc/mobile/otp" + path
        var body = ""
        var uri = target
        if method == "GET" {
            uri += "?" + ordered.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        } else {
            body = "{" + ordered.map { #""\#($0.0)":"\#($0.1)""# }.joined(separator: ",") + "}"
        }
        let host = "127.0.0.1:\(port)"
        var lines: [String]
        switch sdk {
        case .jsNodeFetch:
            lines = [
                "host: \(host)", "connection: keep-alive", "developer_key: \(eko.developerKey)", "secret-key: \(signature)",
                "secret-key-timestamp: \(timestamp)", "content-type: application/json", "accept: */*", "accept-language: *",
                "sec-fetch-mode: cors", "user-agent: node", "accept-encoding: gzip, deflate",
            ]
            if method != "GET" { lines.append("content-length: \(body.utf8.count)") }
        case .goSecondGeneration:
            lines = [
                "Host: \(host)", "User-Agent: Go-http-client/1.1", "Developer_key: \(eko.developerKey)", "Secret-Key: \(signature)",
                "Secret-Key-Timestamp: \(timestamp)", "Content-Type: application/json", "Accept-Encoding: gzip",
            ]
            if method != "GET" { lines.insert("Content-Length: \(body.utf8.count)", at: 2) }
        case .javaFirstGeneration:
            lines = [
                "Connection: Upgrade, HTTP2-Settings", "Content-Length: \(body.utf8.count)", "Host: \(host)",
                "HTTP2-Settings: AAEAAEAAAAIAAAAAAAMAAAAAAAQBAAAAAAUAAEAAAAYABgAA", "Upgrade: h2c", "User-Agent: Java-http-client/17.0.15",
                "content-type: application/json", "developer_key: \(eko.developerKey)", "secret-key: \(signature)",
                "secret-key-timestamp: \(timestamp)",
            ]
        }
        return "\(method) \(uri) HTTP/1.1\r\n" + lines.joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    /// The 15 characters of `[0-9a-z]` a second-generation SDK mints per call.
    static func generatedRef(_ n: Int) -> String {
        let base36 = String(1_700_000_000_000 + n, radix: 36)
        return String((base36 + "a7k2m9q").suffix(15))
    }

    @Test(arguments: SDK.allCases) func sendVerifyAndValidateAsTheSDKWritesThem(sdk: SDK) async throws {
        let h = try await Harness.make()
        let eko = try EkoUser(await h.vendorCredential("eko", options: .init(initiatorID: EkoUser.initiatorID)), clock: h.clock)
        let secondGeneration = sdk == .goSecondGeneration
        try await h.test(mode: .live) { (client: TestClient) async throws in
            let port = try #require(client.client.port)
            let common = [("initiator_id", EkoUser.initiatorID), ("user_code", Self.userCode)]

            let sendRef = secondGeneration ? Self.generatedRef(1) : nil
            let sent = try await RawExchange.send(
                request(
                    sdk, "POST", "", params: common + [("csp_id", "9002336768"), ("mobile", "9002336768")], eko: eko, offset: 1, port: port,
                    ref: sendRef),
                port: port)
            #expect(sent.status == 200, "\(sdk): \(sent.text)")
            #expect(sent.json?.member("status") == .int(0))
            #expect(sent.json?.member("data")?.member("client_ref_id") == sendRef.map(JSONValue.string))
            let code = try await h.lastCode()

            let verifyRef = secondGeneration ? Self.generatedRef(2) : nil
            let verified = try await RawExchange.send(
                request(
                    sdk, "PUT", "/verify", params: common + [("otp", code), ("mobile", "9002336768")], eko: eko, offset: 2, port: port, ref: verifyRef
                ),
                port: port)
            #expect(verified.json?.member("status") == .int(0), "\(sdk): \(verified.text)")
            #expect(verified.json?.member("data")?.member("client_ref_id") == verifyRef.map(JSONValue.string))
            guard case .string(let token)? = verified.json?.member("data")?.member("otp_verification_token") else {
                Issue.record("\(sdk): no token in \(verified.text)")
                return
            }

            let validated = try await RawExchange.send(
                request(
                    sdk, "GET", "/validate-token", params: common + [("otp_verification_token", token)], eko: eko, offset: 3, port: port, ref: nil),
                port: port)
            #expect(validated.status == 200, "\(sdk): \(validated.text)")
            #expect(validated.json?.member("response_type_id") == .int(1633))

            // Every answer is JSON, a refusal included (Node's SDK parses every answer).
            let replayed = try await RawExchange.send(
                request(
                    sdk, "GET", "/validate-token", params: common + [("otp_verification_token", token)], eko: eko, offset: 3, port: port, ref: nil),
                port: port)
            #expect(replayed.status == 403)
            #expect(replayed.json?.member("status") == .int(2485))
        }
    }

    /// Numbers where Eko documents strings, a form-encoded body, a caller's UUID `client_ref_id` and extra fields are
    /// all accepted.
    @Test func numbersFormsAndLongReferencesAreAccepted() async throws {
        let h = try await Harness.make()
        let eko = try EkoUser(await h.vendorCredential("eko", options: .init(initiatorID: EkoUser.initiatorID)), clock: h.clock)
        try await h.test { client in
            let numbers = try await client.eko(
                .post, "", #"{"initiator_id":9962981729,"csp_id":12345,"mobile":9002336768,"source":"NEWCONNECT","user_code":20810200}"#,
                headers: eko.headers())
            #expect(numbers.ekoStatus == 0)
            let code = try await h.lastCode()
            let uuid = "3f2b8c9e-1d4a-4e6b-9c7d-2a1b0c9d8e7f"
            let form = try await client.raw(
                .put, EkoUser.prefix + "/verify",
                body: Array("initiator_id=9962981729&otp=\(code)&mobile=%2B91+9002336768&client_ref_id=\(uuid)".utf8),
                headers: eko.headers(offset: 1, contentType: "application/x-www-form-urlencoded"))
            #expect(form.ekoStatus == 0, "\(String(describing: form.json))")
            #expect(form.dataString("client_ref_id") == uuid)
        }
    }
}

/// One HTTP/1.1 exchange over a raw socket: the request exactly as given, the answer read up to its Content-Length.
enum RawExchange {
    struct Answer {
        let status: Int
        let text: String
        let json: JSONValue?
    }

    static func send(_ request: String, port: Int) async throws -> Answer {
        let connection = try await RawConnection.open(port: port)
        defer { connection.close() }
        connection.send(request)
        var answer: Answer?
        try await waitUntil("an answer to \(request.prefix(40))", timeout: .seconds(20)) {
            answer = parse(connection.received)
            return answer != nil || connection.isClosed
        }
        return try #require(answer ?? parse(connection.received), "no complete answer: \(connection.text)")
    }

    static func parse(_ bytes: [UInt8]) -> Answer? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<end.lowerBound]
        let body = String(text[end.upperBound...])
        let lines = head.components(separatedBy: "\r\n")
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else { return nil }
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first
        guard let length, body.utf8.count >= length else { return nil }
        return Answer(status: status, text: text, json: try? JSONParser.parse(Array(body.utf8.prefix(length))))
    }
}
