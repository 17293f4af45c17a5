public import AsyncHTTPClient
import Foundation
public import OTPGateCore

/// SMS through MSG91's send API (`POST /api/sendhttp.php`, form-encoded, `response=json`) with India's DLT fields:
/// `sender` (the header), `DLT_TE_ID` (the content template) and `PE_ID` (the principal entity). MSG91 answers many
/// refusals with HTTP 200 and `"type":"error"`, so the body decides, not the status.
public struct MSG91SMSSender: MessageSender {
    public struct Settings: Sendable {
        public var authKey: String
        /// 4 = transactional (OTP), 1 = promotional.
        public var route: String
        public var dlt: DLTRegistration
        /// `https://control.msg91.com` (tests point it at a local server).
        public var baseURL: String
        /// Whether MSG91 posts delivery reports here (a report URL is configured, `OTPGATE_MSG91_REPORT_TOKEN`).
        public var reportsDelivery = false

        public init(authKey: String, route: String = "4", dlt: DLTRegistration, baseURL: String = "https://control.msg91.com") {
            self.authKey = authKey
            self.route = route
            self.dlt = dlt
            self.baseURL = baseURL
        }
    }

    public let name = "msg91"
    let settings: Settings
    let gateway: HTTPGateway

    public init(_ settings: Settings, client: HTTPClient = .shared, timeout: Duration = .seconds(10)) {
        self.settings = settings
        self.gateway = HTTPGateway(client: client, provider: "msg91", timeout: timeout)
    }

    /// MSG91's error codes that a later attempt can get past: 306 (route closed for now), 311 (duplicate within 10 s),
    /// 601 (internal error).
    static let transientCodes: Set<String> = ["306", "311", "601"]

    public func send(_ message: OutgoingMessage) async throws -> SendReceipt {
        guard let sender = settings.dlt.sender else { throw DeliveryError.permanent("msg91: no sender header configured (OTPGATE_SMS_SENDER)") }
        // MSG91 writes numbers without the plus: 919876543210.
        var fields = [
            ("authkey", settings.authKey), ("mobiles", String(message.destination.drop { $0 == "+" })), ("message", message.text),
            ("sender", sender), ("route", settings.route), ("country", "0"), ("response", "json"),
        ]
        if let template = message.dltTemplateID { fields.append(("DLT_TE_ID", template)) }
        if let entity = settings.dlt.entityID { fields.append(("PE_ID", entity)) }
        if SMSEncoding(message.text) == .ucs2 { fields.append(("unicode", "1")) }
        let base = settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL
        let answer = try await gateway.post(
            "\(base)/api/sendhttp.php",
            headers: [("authkey", settings.authKey), ("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json")],
            body: Array(FormEncoding.encode(fields).utf8))
        guard let value = try? JSONValue(parsing: String(decoding: answer.body, as: UTF8.self)), case .object(let o) = value,
            case .string(let type)? = o["type"]
        else { throw DeliveryError.retryable("msg91: HTTP \(answer.status) with an unreadable answer") }
        let code: String? =
            switch o["code"] {
            case .string(let s)?: s.count <= 8 ? s : nil
            case .number(let n)?: n.description
            default: nil
            }
        guard type == "success", case .string(let requestID)? = o["message"] else {
            let reason = "msg91: error\(code.map { " \($0)" } ?? "")"
            if let code, Self.transientCodes.contains(code) { throw DeliveryError.retryable(reason) }
            throw DeliveryError.permanent(reason)
        }
        return SendReceipt(providerMessageID: String(requestID.prefix(64)), awaitsReport: settings.reportsDelivery)
    }
}
