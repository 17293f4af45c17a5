public import OTPGateCore

/// Delivery reports from the operator's own SMS gateway endpoint: `{"id": "<its message id>", "status": "delivered" |
/// "failed", "error": "<code>"}` (or an array of them), signed as Standard Webhooks says with the webhook secret.
public struct WebhookReportReader: DeliveryReportReader {
    public let provider = "webhook"
    let signature: StandardWebhookSignature

    public init(secret: String) throws {
        signature = try StandardWebhookSignature(secret: secret)
    }

    public func reports(in request: DeliveryReportRequest, now: Timestamp) -> [DeliveryReport]? {
        guard let id = request.headers["webhook-id"], let timestamp = request.headers["webhook-timestamp"],
            let signatures = request.headers["webhook-signature"],
            signature.verify(id: id, timestamp: timestamp, signatures: signatures, body: request.body, now: now.seconds)
        else { return nil }
        guard let value = try? JSONValue(parsing: String(decoding: request.body, as: UTF8.self)) else { return [] }
        let items: [JSONValue] =
            if case .array(let items) = value { items } else { [value] }
        return items.compactMap { item in
            guard case .object(let o) = item, case .string(let messageID)? = o["id"], case .string(let status)? = o["status"] else { return nil }
            var error: String?
            if case .string(let code)? = o["error"] { error = "webhook: " + String(code.prefix(64)) }
            switch status {
            case "delivered": return DeliveryReport(provider: provider, providerMessageID: messageID, delivered: true)
            case "failed":
                return DeliveryReport(provider: provider, providerMessageID: messageID, delivered: false, error: error ?? "webhook: failed")
            default: return nil
            }
        }
    }
}
