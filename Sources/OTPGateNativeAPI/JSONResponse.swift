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
    /// `dual` for a verification whose code also went to a companion destination.
    static func channel(_ v: Verification) -> String { v.companion == nil ? v.channel.rawValue : "dual" }

    /// With `deliveries`, the verification's messages and what became of each (`GET /v1/verifications/{id}`).
    static func render(_ v: Verification, now: Timestamp, deliveries: [OutboxMessage]? = nil) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(v.id),
            "status": .string(v.displayStatus(at: now)),
            "channel": .string(channel(v)),
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
        if let companion = v.companion, companion.channel == .email { o["to_email"] = .string(companion.masked) }
        if let fallback = v.fallback {
            o["fallback"] = .object([
                "channel": .string(fallback.channel.rawValue), "to": .string(fallback.masked), "after_seconds": .int(v.fallbackAfterSeconds),
            ])
        }
        if let deliveries { o["deliveries"] = .array(deliveries.map(DeliveryView.render)) }
        return .object(o)
    }
}

/// One message of a verification (one send to one destination) and what became of it.
enum DeliveryView {
    static func render(_ m: OutboxMessage) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(m.id),
            "channel": .string(m.channel.rawValue),
            "status": .string(status(m.state)),
            "attempts": .int(m.attempts),
            "at": .string((m.finishedAt ?? m.createdAt).iso8601),
        ]
        if m.id.hasSuffix(".\(NewOutboxMessage.fallbackPart)") && m.id.split(separator: ".").count == 3 { o["fallback"] = .bool(true) }
        o["provider"] = m.provider.map(JSONValue.string)
        o["provider_message_id"] = m.providerMessageID.map(JSONValue.string)
        if m.state != .sent && m.state != .delivered { o["error"] = m.lastError.map(JSONValue.string) }
        return .object(o)
    }

    /// `queued` (waiting, being sent or retried), `sent`, `delivered`, `failed`, `superseded` (a resend or cancel
    /// replaced it first) or `expired` (the code ran out first).
    static func status(_ state: OutboxState) -> String {
        switch state {
        case .pending, .sending: "queued"
        case .sent: "sent"
        case .delivered: "delivered"
        case .failed: "failed"
        case .superseded: "superseded"
        case .expired: "expired"
        }
    }
}
