import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import OTPGateNativeAPI
import Synchronization

/// Sends requests straight to the server's router, as the HTTP server would after parsing them, with no socket and
/// no event loop: the same middleware, authentication, handlers, engine and store, one request at a time.
struct InProcessClient {
    let responder: any HTTPResponder<AppRequestContext>
    /// Thread-safe, unlike `EmbeddedChannel`: the handlers run on the global executor's threads.
    let channel = NIOAsyncTestingChannel()
    let logger: Logger

    init(router: Router<AppRequestContext>, logger: Logger) {
        self.responder = router.buildResponder()
        self.logger = logger
    }

    struct Answer {
        let status: HTTPResponse.Status
        let body: [UInt8]
    }

    func post(_ path: String, _ json: String, key: String?) async throws -> Answer {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let key { fields[.authorization] = "Bearer \(key)" }
        let head = HTTPRequest(method: .post, scheme: "http", authority: "otpgate", path: path, headerFields: fields)
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(string: json)))
        // As the server does: each request's logger carries its request id.
        var logger = logger
        logger[metadataKey: "hb.request.id"] = .stringConvertible(RequestID())
        let context = AppRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
        let response = try await responder.respond(to: request, context: context)
        let collected = CollectedBody()
        try await response.body.write(BodyCollector(into: collected))
        return Answer(status: response.status, body: collected.bytes)
    }
}

/// The bytes a response body wrote.
final class CollectedBody: Sendable {
    private let buffer = Mutex<[UInt8]>([])
    var bytes: [UInt8] { buffer.withLock { $0 } }
    func append(_ part: ByteBuffer) { buffer.withLock { $0 += part.readableBytesView } }
}

struct BodyCollector: ResponseBodyWriter {
    let into: CollectedBody
    mutating func write(_ buffer: ByteBuffer) async throws { into.append(buffer) }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
