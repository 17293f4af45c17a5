import Foundation
public import OTPGateCore

/// A tenant's own SMS delivery: its DLT registration (sender header, principal entity id, the content template id of
/// the built-in text) and, optionally, its own gateway account. Each value left unset is the deployment's. Sealed
/// under the master key with the tenant id before it is stored (`TenantDeliveryStore`): it holds credentials.
public struct TenantDeliverySettings: Sendable, Equatable {
    public enum Provider: String, Sendable, CaseIterable { case webhook, twilio, msg91 }

    public var dlt = DLTRegistration()
    /// Its own gateway account; `nil` sends through the deployment's gateway under the tenant's DLT registration.
    public var provider: Provider?
    public var webhookURL: String?
    public var webhookSecret: String?
    public var twilioAccountSID: String?
    public var twilioAuthToken: String?
    public var twilioFrom: String?
    public var msg91AuthKey: String?

    public init() {}

    public static let sealPurpose = "tenant-delivery"

    /// Refuses a provider without its credentials, and values that could not be right.
    public func validated() throws(FieldRefusal) -> TenantDeliverySettings {
        func refuse(_ field: String, _ reason: String) -> FieldRefusal { FieldRefusal(field: field, reason: reason) }
        if let sender = dlt.sender, !(sender.count == 6 && sender.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })) {
            throw refuse("sms-sender", "must be 6 letters or digits (India's DLT header)")
        }
        for (field, value) in [("dlt-entity-id", dlt.entityID), ("dlt-template-id", dlt.templateID)] {
            if let value, !(value.count >= 10 && value.count <= 30 && value.allSatisfy(\.isNumber)) {
                throw refuse(field, "must be the 10 to 30 digit id DLT registered")
            }
        }
        switch provider {
        case .webhook?:
            guard let url = webhookURL, url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw refuse("webhook-url", "is required for the webhook provider (an http(s) URL)")
            }
            guard let secret = webhookSecret, (try? StandardWebhookSignature(secret: secret)) != nil else {
                throw refuse("webhook-secret", "is required: whsec_ followed by base64, or at least 16 characters")
            }
        case .twilio?:
            guard twilioAccountSID?.hasPrefix("AC") == true, twilioAuthToken?.isEmpty == false, twilioFrom?.isEmpty == false else {
                throw refuse("twilio-account-sid", "--twilio-account-sid (AC…), --twilio-auth-token and --twilio-from are required for twilio")
            }
        case .msg91?:
            guard msg91AuthKey?.isEmpty == false else { throw refuse("msg91-auth-key", "is required for msg91") }
        case nil: break
        }
        return self
    }

    var json: JSONValue {
        var o: [String: JSONValue] = [:]
        o["sender"] = dlt.sender.map(JSONValue.string)
        o["dlt_entity_id"] = dlt.entityID.map(JSONValue.string)
        o["dlt_template_id"] = dlt.templateID.map(JSONValue.string)
        o["provider"] = provider.map { .string($0.rawValue) }
        o["webhook_url"] = webhookURL.map(JSONValue.string)
        o["webhook_secret"] = webhookSecret.map(JSONValue.string)
        o["twilio_account_sid"] = twilioAccountSID.map(JSONValue.string)
        o["twilio_auth_token"] = twilioAuthToken.map(JSONValue.string)
        o["twilio_from"] = twilioFrom.map(JSONValue.string)
        o["msg91_auth_key"] = msg91AuthKey.map(JSONValue.string)
        return .object(o)
    }

    public func sealed(with cipher: PersonalDataCipher, tenantID: String) throws -> [UInt8] {
        try cipher.seal(json.serialized, purpose: Self.sealPurpose, rowID: tenantID)
    }

    public static func open(_ sealed: [UInt8], with cipher: PersonalDataCipher, tenantID: String) throws -> TenantDeliverySettings {
        guard case .object(let o) = try JSONParser.parse(try cipher.open(sealed, purpose: sealPurpose, rowID: tenantID)) else {
            throw StoreError(.corrupt, "the delivery settings of tenant \(tenantID) are not an object")
        }
        func text(_ key: String) -> String? { if case .string(let s)? = o[key] { s } else { nil } }
        var s = TenantDeliverySettings()
        s.dlt = DLTRegistration(sender: text("sender"), entityID: text("dlt_entity_id"), templateID: text("dlt_template_id"))
        s.provider = text("provider").flatMap(Provider.init(rawValue:))
        s.webhookURL = text("webhook_url")
        s.webhookSecret = text("webhook_secret")
        s.twilioAccountSID = text("twilio_account_sid")
        s.twilioAuthToken = text("twilio_auth_token")
        s.twilioFrom = text("twilio_from")
        s.msg91AuthKey = text("msg91_auth_key")
        return s
    }

    /// What an operator may see: every value but the secrets, which show as `set`.
    public var summary: String {
        var parts: [String] = []
        if let v = dlt.sender { parts.append("sender=\(v)") }
        if let v = dlt.entityID { parts.append("dlt_entity_id=\(v)") }
        if let v = dlt.templateID { parts.append("dlt_template_id=\(v)") }
        parts.append("provider=\(provider?.rawValue ?? "deployment's")")
        if let v = webhookURL { parts.append("webhook_url=\(v)") }
        if webhookSecret != nil { parts.append("webhook_secret=set") }
        if let v = twilioAccountSID { parts.append("twilio_account_sid=\(v)") }
        if twilioAuthToken != nil { parts.append("twilio_auth_token=set") }
        if let v = twilioFrom { parts.append("twilio_from=\(v)") }
        if msg91AuthKey != nil { parts.append("msg91_auth_key=set") }
        return parts.joined(separator: " ")
    }
}
