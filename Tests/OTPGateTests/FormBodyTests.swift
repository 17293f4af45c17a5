import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateNativeAPI
@testable import OTPGateObservability
@testable import OTPGateServer

/// Form-encoded bodies (what vendor-compatible routes will receive), through a route that echoes the fields as JSON,
/// behind the server's own problem middleware.
@Suite struct FormBodyTests {
    func withEchoRoute(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ObservabilityMiddleware(metrics: ServerMetrics()))
        router.post("/form") { request, context -> Response in
            let form = try await FormBody.read(request, context: context)
            return JSONResponse.make(.ok, .object(form.fields.mapValues(JSONValue.string)))
        }
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        try await app.test(.router) { client in try await body(client) }
    }

    func post(_ client: any TestClientProtocol, _ body: [UInt8]) async throws -> (status: HTTPResponse.Status, json: JSONValue?) {
        try await client.execute(
            uri: "/form", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(bytes: body)
        ) { response in
            (response.status, try? JSONParser.parse(Array(response.body.readableBytesView)))
        }
    }

    @Test func fieldsAreDecoded() async throws {
        try await withEchoRoute { client in
            let r = try await post(client, Array("To=%2B919876543210&Channel=sms&FriendlyName=My+App%21&Empty=&Locale=hi-IN&flag".utf8))
            #expect(r.status == .ok)
            #expect(
                r.json
                    == .object([
                        "To": .string("+919876543210"), "Channel": .string("sms"), "FriendlyName": .string("My App!"), "Empty": .string(""),
                        "Locale": .string("hi-IN"),
                    ]))
            let empty = try await post(client, [])
            #expect(empty.status == .ok)
            #expect(empty.json == .object([:]))
        }
    }

    @Test(
        arguments: [
            ("Code=123456&Code=654321", "Code"),
            ("To=%ZZ", nil),
            ("To=%2", nil),
            ("a[]=1", nil),
            ("a[b]=1", nil),
            ("a=1&a[b]=2", nil),
            ("a[b=1", nil),
        ] as [(String, String?)])
    func malformedFormsAre400(body: String, named: String?) async throws {
        try await withEchoRoute { client in
            let r = try await post(client, Array(body.utf8))
            #expect(r.status == .badRequest, "\(body)")
            guard case .object(let problem)? = r.json else {
                Issue.record("no problem for \(body)")
                return
            }
            #expect(problem["code"] == .string("malformed_form"), "\(body)")
            guard case .string(let detail)? = problem["detail"] else {
                Issue.record("no detail")
                return
            }
            if let named { #expect(detail.contains(named), "\(detail)") }
            // A value is never repeated back: it may be a phone number or a code.
            #expect(!detail.contains("123456") && !detail.contains("%ZZ"), "\(detail)")
        }
    }

    @Test func invalidUTF8AndOversizedBodiesAreRefused() async throws {
        try await withEchoRoute { client in
            let invalid = try await post(client, Array("To=".utf8) + [0xFF, 0xFE])
            #expect(invalid.status == .badRequest)
            let big = try await post(client, Array("To=".utf8) + Array(repeating: UInt8(ascii: "9"), count: 70_000))
            #expect(big.status == .contentTooLarge)
        }
    }

    @Test func parsingIsUsableWithoutHTTP() throws {
        #expect(try FormBody.parse(Array("a=1&b=x+y".utf8)) == ["a": "1", "b": "x y"])
        #expect(throws: Problem.self) { try FormBody.parse(Array("a=1&a=2".utf8)) }
    }
}
