import Foundation
package import HTTPTypes
package import Hummingbird
import NIOCore
package import OTPGateCore

/// A JSON response from a `JSONValue` or pre-encoded bytes.
package enum JSONResponse {
    package static func make(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        make(status, bytes: value.serialized, headers: headers)
    }

    static func make(_ status: HTTPResponse.Status, bytes: [UInt8], headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// How the native API renders a verification: the destination masked, times in ISO 8601.
enum VerificationView {
    static func render(_ v: Verification, now: Timestamp) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(v.id),
            "status": .string(v.displayStatus(at: now)),
            "channel": .string(v.channel.rawValue),
            "to": .string(v.maskedDestination),
            "created_at": .string(v.createdAt.iso8601),
            "updated_at": .string(v.updatedAt.iso8601),
            "expires_at": .string(v.expiresAt.iso8601),
            "code_length": .int(v.codeLength),
            "attempts_remaining": .int(v.attemptsRemaining),
            "max_attempts": .int(v.maxAttempts),
            "sends": .int(v.sends),
            "max_sends": .int(v.maxSends),
            "resend_available_at": .string(v.resendAvailableAt.iso8601),
        ]
        if let purpose = v.purpose { o["purpose"] = .string(purpose) }
        if let locale = v.locale { o["locale"] = .string(locale) }
        if let reference = v.reference { o["reference"] = .string(reference) }
        if let context = v.context, let value = try? JSONValue(parsing: context) { o["context"] = value }
        return .object(o)
    }
}
