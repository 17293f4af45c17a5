import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// A local HTTP server speaking an SMS gateway's shape, for one test: it records every request and answers from a
/// script (status, body, delay), else as the gateway answers a good request. The Twilio and MSG91 answers reproduce
/// those providers' documented responses (docs/DELIVERY.md says so); the generic webhook is ours.
final class GatewayTestServer: Sendable {
    struct Recorded: Sendable {
        var method: String
        var path: String
        var query: String
        /// Header names lowercased.
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }

        /// The body's form fields (`application/x-www-form-urlencoded`).
        var form: [String: String] {
            var fields: [String: String] = [:]
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map {
                    String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
                }
                fields[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            return fields
        }

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    }

    struct Reply: Sendable {
        var status: Int
        var body: String
        var delay: Duration = .zero
        var headers: [String: String] = [:]
    }

    private let state = Mutex<(recorded: [Recorded], script: [Reply])>(([], []))

    var requests: [Recorded] { state.withLock { $0.recorded } }

    /// The next requests get these answers, in order.
    func answer(_ replies: Reply...) { state.withLock { $0.script += replies } }

    /// Serves until `body` returns; `body` gets the base URL (`http://127.0.0.1:PORT`).
    func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.on("**", method: .post) { request, context -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let recorded = Recorded(
                method: "POST", path: request.uri.path, query: request.uri.query ?? "", headers: headers, body: Array(buffer: bytes))
            let scripted = self.state.withLock { state -> Reply? in
                state.recorded.append(recorded)
                return state.script.isEmpty ? nil : state.script.removeFirst()
            }
            let reply = scripted ?? Self.success(for: recorded)
            if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
            var fields: HTTPFields = [.contentType: "application/json"]
            for (name, value) in reply.headers { fields[HTTPField.Name(name)!] = value }
            return Response(
                status: HTTPResponse.Status(code: reply.status), headers: fields,
                body: ResponseBody(byteBuffer: ByteBuffer(string: reply.body)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }

    /// What each gateway answers a request it takes.
    static func success(for request: Recorded) -> Reply {
        if request.path.hasSuffix("/Messages.json") {
            let form = request.form
            return Reply(
                status: 201, body: twilioMessage(sid: "SM" + String(repeating: "a", count: 32), to: form["To"] ?? "", body: form["Body"] ?? ""))
        }
        if request.path == "/api/sendhttp.php" { return Reply(status: 200, body: #"{"message":"5762846b4f8d285d378b4567","type":"success"}"#) }
        return Reply(status: 200, body: #"{"id":"gw-1"}"#)
    }

    /// Twilio's 201 body for a created message (its documented example, with this message's values).
    static func twilioMessage(sid: String, to: String, body: String) -> String {
        let object: [String: Any?] = [
            "account_sid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "api_version": "2010-04-01", "body": body,
            "date_created": "Thu, 24 Aug 2023 05:01:45 +0000", "date_sent": nil, "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
            "direction": "outbound-api", "error_code": nil, "error_message": nil, "from": "+15017122661", "num_media": "0", "num_segments": "1",
            "price": nil, "price_unit": nil, "messaging_service_sid": nil, "sid": sid, "status": "queued", "to": to,
            "uri": "/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages/\(sid).json",
        ]
        let data = try! JSONSerialization.data(withJSONObject: object.mapValues { $0 ?? NSNull() })
        return String(decoding: data, as: UTF8.self)
    }

    /// Twilio's documented error body.
    static func twilioError(status: Int, code: Int, message: String) -> Reply {
        Reply(
            status: status,
            body: #"{"code": \#(code), "message": "\#(message)", "more_info": "https://www.twilio.com/docs/errors/\#(code)", "status": \#(status)}"#)
    }
}
