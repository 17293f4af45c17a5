import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OTPGateCore

/// The HTTP call every SMS gateway makes, and what its answer means for the outbox: 2xx taken; 408, 429 and 5xx,
/// timeouts and connection failures retried; any other 4xx refused for good (a retry would be refused the same way).
struct HTTPGateway: Sendable {
    let client: HTTPClient
    let provider: String
    var timeout: Duration = .seconds(10)

    struct Answer {
        var status: Int
        var body: [UInt8]
    }

    func post(_ url: String, headers: [(String, String)], body: [UInt8]) async throws(DeliveryError) -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let answer: Answer
        do {
            let response = try await client.execute(
                request, timeout: .milliseconds(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
            let bytes = try await response.body.collect(upTo: 256 * 1024)
            answer = Answer(status: Int(response.status.code), body: Array(buffer: bytes))
        } catch {
            throw .retryable("\(provider): \(Self.describe(error))")
        }
        switch answer.status {
        case 200..<300: return answer
        case 408, 429, 500..<600: throw .retryable("\(provider): HTTP \(answer.status)\(errorCode(answer).map { " (\($0))" } ?? "")")
        default: throw .permanent("\(provider): HTTP \(answer.status)\(errorCode(answer).map { " (\($0))" } ?? "")")
        }
    }

    /// The provider's own error code from a JSON answer (`code`), safe to store: never its message, which may
    /// repeat the number.
    private func errorCode(_ answer: Answer) -> String? {
        guard let value = try? JSONValue(parsing: String(decoding: answer.body, as: UTF8.self)), case .object(let o) = value else { return nil }
        switch o["code"] {
        case .string(let s)? where s.count <= 32 && s.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }): return s
        case .number(let n)?: return n.description
        default: return nil
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout: "timed out"
        case let error as HTTPClientError: "\(error)"
        default: String(String(describing: error).prefix(160))
        }
    }
}
