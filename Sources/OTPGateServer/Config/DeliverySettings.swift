import Configuration
import Foundation
public import OTPGateDelivery

/// How codes leave the server: the providers per channel and their credentials (docs/DELIVERY.md).
///
/// - `otpgate.delivery` (`OTPGATE_DELIVERY`: `console` or `discard`): every channel through that development sender
/// - `otpgate.smtp.url` (`OTPGATE_SMTP_URL`, secret: `smtp://user:pass@host:587` or `smtps://…:465`), `otpgate.smtp.from`
///   (`OTPGATE_SMTP_FROM`), `otpgate.smtp.ca.file` (`OTPGATE_SMTP_CA_FILE`)
/// - `otpgate.sms.provider` (`OTPGATE_SMS_PROVIDER`: `webhook`, `twilio` or `msg91`; `webhook` when only its URL is set)
/// - `otpgate.sms.webhook.url`, `otpgate.sms.webhook.secret` (`OTPGATE_SMS_WEBHOOK_URL`, `OTPGATE_SMS_WEBHOOK_SECRET`)
/// - `otpgate.sms.sender`, `otpgate.sms.dlt.entity.id`, `otpgate.sms.dlt.template.id`: India's DLT header, PE id and the
///   default message's content template id
/// - `otpgate.twilio.*` (`OTPGATE_TWILIO_ACCOUNT_SID`, `_AUTH_TOKEN` or `_API_KEY_SID` + `_API_KEY_SECRET`, `_FROM` or
///   `_MESSAGING_SERVICE_SID`, `_STATUS_CALLBACK_URL`, `_BASE_URL`)
/// - `otpgate.msg91.*` (`OTPGATE_MSG91_AUTH_KEY`, `_ROUTE`, `_BASE_URL`, `_REPORT_TOKEN`)
/// - `otpgate.outbox.max.attempts` (`OTPGATE_OUTBOX_MAX_ATTEMPTS`, 1 to 20, default 5) and `otpgate.outbox.lease.seconds`
///   (`OTPGATE_OUTBOX_LEASE_SECONDS`, 5 to 600, default 30): retries, and how long a claimed message waits before
///   another worker may send it
public struct DeliverySettings: Sendable {
    public enum DevelopmentSender: String, Sendable, CaseIterable { case console, discard }
    public enum SMSProvider: String, Sendable, CaseIterable { case webhook, twilio, msg91 }

    /// Forces every channel to a development sender.
    public var forced: DevelopmentSender?
    public var smtp: SMTPConfiguration?
    public var smsProvider: SMSProvider?
    public var webhookURL: String?
    public var webhookSecret: String?
    public var dlt = DLTRegistration()
    public var twilio: TwilioSMSSender.Settings?
    public var msg91: MSG91SMSSender.Settings?
    /// Twilio's auth token, which signs its status callbacks (also when messages are sent with an API key).
    public var twilioAuthToken: String?
    /// The secret path segment of MSG91's delivery-report URL (`OTPGATE_MSG91_REPORT_TOKEN`, at least 16 characters).
    public var msg91ReportToken: String?
    public var maxAttempts = 5
    public var lease: Duration = .seconds(30)

    public init() {}

    init(_ r: SettingReader) throws {
        if r.string("otpgate.delivery") != nil { forced = try r.choice("otpgate.delivery", default: .console, DevelopmentSender.self) }
        maxAttempts = try r.int("otpgate.outbox.max.attempts", default: 5, in: 1...20)
        lease = .seconds(try r.int("otpgate.outbox.lease.seconds", default: 30, in: 5...600))
        if let url = r.string("otpgate.smtp.url", isSecret: true) {
            guard let from = r.string("otpgate.smtp.from") else { throw ConfigurationError("OTPGATE_SMTP_URL is set: set OTPGATE_SMTP_FROM too") }
            do {
                smtp = try SMTPConfiguration(url: url, from: from, caFile: r.string("otpgate.smtp.ca.file"))
            } catch {
                throw ConfigurationError(error.description)
            }
            if let caFile = smtp?.caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                throw ConfigurationError("OTPGATE_SMTP_CA_FILE names a file that cannot be read")
            }
        } else if r.string("otpgate.smtp.from") != nil || r.string("otpgate.smtp.ca.file") != nil {
            throw ConfigurationError("OTPGATE_SMTP_FROM and OTPGATE_SMTP_CA_FILE need OTPGATE_SMTP_URL")
        }
        dlt = DLTRegistration(
            sender: r.string("otpgate.sms.sender"), entityID: r.string("otpgate.sms.dlt.entity.id"),
            templateID: r.string("otpgate.sms.dlt.template.id"))
        webhookURL = r.string("otpgate.sms.webhook.url")
        webhookSecret = r.string("otpgate.sms.webhook.secret", isSecret: true)
        if r.string("otpgate.sms.provider") != nil {
            smsProvider = try r.choice("otpgate.sms.provider", default: .webhook, SMSProvider.self)
        } else if webhookURL != nil {
            smsProvider = .webhook
        }
        switch smsProvider {
        case .webhook?:
            guard let url = webhookURL, Self.isHTTPURL(url) else {
                throw ConfigurationError("OTPGATE_SMS_PROVIDER=webhook needs OTPGATE_SMS_WEBHOOK_URL (an http:// or https:// URL)")
            }
            guard let secret = webhookSecret, (try? StandardWebhookSignature(secret: secret)) != nil else {
                throw ConfigurationError("OTPGATE_SMS_WEBHOOK_SECRET must be set: whsec_ followed by base64, or at least 16 characters")
            }
        case .twilio?:
            twilio = try Self.twilio(r)
            twilioAuthToken = r.string("otpgate.twilio.auth.token", isSecret: true)
            if twilio?.statusCallback != nil, twilioAuthToken == nil {
                throw ConfigurationError("OTPGATE_TWILIO_STATUS_CALLBACK_URL needs OTPGATE_TWILIO_AUTH_TOKEN: Twilio signs its callbacks with it")
            }
        case .msg91?:
            msg91 = try Self.msg91(r, dlt: dlt)
            msg91ReportToken = r.string("otpgate.msg91.report.token", isSecret: true)
            if let token = msg91ReportToken, token.count < 16 || !token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                throw ConfigurationError("OTPGATE_MSG91_REPORT_TOKEN must be at least 16 letters and digits")
            }
        case nil: break
        }
    }

    private static func twilio(_ r: SettingReader) throws -> TwilioSMSSender.Settings {
        guard let account = r.string("otpgate.twilio.account.sid") else {
            throw ConfigurationError("OTPGATE_SMS_PROVIDER=twilio needs OTPGATE_TWILIO_ACCOUNT_SID")
        }
        let username: String
        let password: String
        if let keySID = r.string("otpgate.twilio.api.key.sid") {
            guard let secret = r.string("otpgate.twilio.api.key.secret", isSecret: true) else {
                throw ConfigurationError("OTPGATE_TWILIO_API_KEY_SID needs OTPGATE_TWILIO_API_KEY_SECRET")
            }
            (username, password) = (keySID, secret)
        } else if let token = r.string("otpgate.twilio.auth.token", isSecret: true) {
            (username, password) = (account, token)
        } else {
            throw ConfigurationError("OTPGATE_SMS_PROVIDER=twilio needs OTPGATE_TWILIO_AUTH_TOKEN (or OTPGATE_TWILIO_API_KEY_SID and _SECRET)")
        }
        let from = r.string("otpgate.twilio.from")
        let service = r.string("otpgate.twilio.messaging.service.sid")
        guard from != nil || service != nil else {
            throw ConfigurationError("OTPGATE_SMS_PROVIDER=twilio needs OTPGATE_TWILIO_FROM or OTPGATE_TWILIO_MESSAGING_SERVICE_SID")
        }
        let base = try r.string("otpgate.twilio.base.url", default: "https://api.twilio.com")
        let callback = r.string("otpgate.twilio.status.callback.url")
        guard isHTTPURL(base), callback.map(isHTTPURL) ?? true else {
            throw ConfigurationError("OTPGATE_TWILIO_BASE_URL and OTPGATE_TWILIO_STATUS_CALLBACK_URL must be http:// or https:// URLs")
        }
        return TwilioSMSSender.Settings(
            accountSID: account, username: username, password: password, from: from, messagingServiceSID: service, statusCallback: callback,
            baseURL: base)
    }

    private static func msg91(_ r: SettingReader, dlt: DLTRegistration) throws -> MSG91SMSSender.Settings {
        guard let key = r.string("otpgate.msg91.auth.key", isSecret: true) else {
            throw ConfigurationError("OTPGATE_SMS_PROVIDER=msg91 needs OTPGATE_MSG91_AUTH_KEY")
        }
        guard dlt.sender != nil else { throw ConfigurationError("OTPGATE_SMS_PROVIDER=msg91 needs OTPGATE_SMS_SENDER (the DLT header)") }
        let base = try r.string("otpgate.msg91.base.url", default: "https://control.msg91.com")
        guard isHTTPURL(base) else { throw ConfigurationError("OTPGATE_MSG91_BASE_URL must be an http:// or https:// URL") }
        return MSG91SMSSender.Settings(authKey: key, route: try r.string("otpgate.msg91.route", default: "4"), dlt: dlt, baseURL: base)
    }

    static func isHTTPURL(_ text: String) -> Bool {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else { return false }
        return scheme == "http" || scheme == "https"
    }
}
