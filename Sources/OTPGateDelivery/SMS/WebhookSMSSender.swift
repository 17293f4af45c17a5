public import AsyncHTTPClient
import Foundation
public import OTPGateCore

/// SMS through any gateway the operator fronts with a small HTTP endpoint (`OTPGATE_SMS_WEBHOOK_URL`): one JSON POST
/// per message, signed as Standard Webhooks says with `OTPGATE_SMS_WEBHOOK_SECRET`. The endpoint answers 2xx when it
/// took the message, optionally with `{"id": "…"}` (its message id).
public struct WebhookSMSSender: MessageSender {
    /// `webhook` for the deployment's gateway, whose delivery reports `/delivery-reports/webhook` accepts; a tenant's
    /// own gateway is named apart (`tenant-webhook`) so no report meant for another gateway can match its messages.
    public let name: String
    /// Whether the gateway's delivery reports reach this server (only the deployment's gateway's can).
    let reportsDelivery: Bool
    let url: String
    let signature: StandardWebhookSignature
    let dlt: DLTRegistration
    let gateway: HTTPGateway
    let clock: any Clock

    public init(
        url: String, secret: String, dlt: DLTRegistration, client: HTTPClient = .shared, timeout: Duration = .seconds(10),
        clock: any Clock = SystemClock(), name: String = "webhook", reportsDelivery: Bool = true
    ) throws {
        self.name = name
        self.reportsDelivery = reportsDelivery
        self.url = url
        self.signature = try StandardWebhookSignature(secret: secret)
        self.dlt = dlt
        self.gateway = HTTPGateway(client: client, provider: "webhook", timeout: timeout)
        self.clock = clock
    }

    public func send(_ message: OutgoingMessage) async throws -> SendReceipt {
        var object: [String: JSONValue] = [
            "type": .string("sms"),
            "message_id": .string(message.messageID),
            "to": .string(message.destination),
            "text": .string(message.text),
        ]
        object["dlt_template_id"] = message.dltTemplateID.map(JSONValue.string)
        object["dlt_entity_id"] = dlt.entityID.map(JSONValue.string)
        object["sender"] = dlt.sender.map(JSONValue.string)
        let body = Array(JSONValue.object(object).canonicalText.utf8)
        // The message id is the webhook id: a retried message keeps it, so the endpoint can drop a duplicate.
        var headers = signature.headers(id: message.messageID, timestamp: clock.now().seconds, body: body).map { ($0.name, $0.value) }
        headers.append(("content-type", "application/json"))
        let answer = try await gateway.post(url, headers: headers, body: body)
        guard let value = try? JSONValue(parsing: String(decoding: answer.body, as: UTF8.self)), case .object(let o) = value,
            case .string(let id)? = o["id"], (1...128).contains(id.utf8.count)
        else { return SendReceipt(providerMessageID: nil) }
        // A gateway that names the message can report on it (`/delivery-reports/webhook`).
        return SendReceipt(providerMessageID: id, awaitsReport: reportsDelivery)
    }
}
