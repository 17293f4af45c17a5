public import AsyncHTTPClient
import Foundation
public import OTPGateCore

/// SMS through Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP
/// Basic with the account (or an API key) and its secret; the answer's `sid` is the provider message id.
public struct TwilioSMSSender: MessageSender {
    public struct Settings: Sendable {
        public var accountSID: String
        /// The Basic-auth user: the account SID, or an API key SID (`SK…`).
        public var username: String
        public var password: String
        /// A sender number (E.164) or alphanumeric id; or, instead, a messaging service.
        public var from: String?
        public var messagingServiceSID: String?
        /// Where Twilio posts delivery reports (`StatusCallback`).
        public var statusCallback: String?
        /// `https://api.twilio.com` (tests point it at a local server).
        public var baseURL: String

        public init(
            accountSID: String, username: String, password: String, from: String?, messagingServiceSID: String?, statusCallback: String?,
            baseURL: String = "https://api.twilio.com"
        ) {
            self.accountSID = accountSID
            self.username = username
            self.password = password
            self.from = from
            self.messagingServiceSID = messagingServiceSID
            self.statusCallback = statusCallback
            self.baseURL = baseURL
        }
    }

    public let name = "twilio"
    let settings: Settings
    let gateway: HTTPGateway

    public init(_ settings: Settings, client: HTTPClient = .shared, timeout: Duration = .seconds(10)) {
        self.settings = settings
        self.gateway = HTTPGateway(client: client, provider: "twilio", timeout: timeout)
    }

    public func send(_ message: OutgoingMessage) async throws -> SendReceipt {
        var fields = [("To", message.destination), ("Body", message.text)]
        if let from = settings.from { fields.append(("From", from)) }
        if let service = settings.messagingServiceSID { fields.append(("MessagingServiceSid", service)) }
        if let callback = settings.statusCallback { fields.append(("StatusCallback", callback)) }
        let body = Array(FormEncoding.encode(fields).utf8)
        let credentials = Data("\(settings.username):\(settings.password)".utf8).base64EncodedString()
        let base = settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL
        let answer = try await gateway.post(
            "\(base)/2010-04-01/Accounts/\(settings.accountSID)/Messages.json",
            headers: [
                ("authorization", "Basic \(credentials)"), ("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json"),
            ],
            body: body)
        guard let value = try? JSONValue(parsing: String(decoding: answer.body, as: UTF8.self)), case .object(let o) = value,
            case .string(let sid)? = o["sid"]
        else { throw DeliveryError.retryable("twilio: HTTP \(answer.status) without a message sid") }
        return SendReceipt(providerMessageID: sid, awaitsReport: settings.statusCallback != nil)
    }
}

/// `application/x-www-form-urlencoded` as browsers and Twilio's SDKs write it (space as `+`).
enum FormEncoding {
    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "): out += "+"
            default: out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
