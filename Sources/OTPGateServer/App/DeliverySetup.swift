public import OTPGateCore
public import OTPGateDelivery

/// Turns the delivery settings into a sender per channel, and refuses a production set-up that could not deliver.
public enum DeliverySetup {
    /// The delivery-report callbacks this server accepts: Twilio's when its status callback URL is set, the webhook
    /// gateway's, and MSG91's when its report token is set.
    public static func reportReaders(_ delivery: DeliverySettings) throws -> [any DeliveryReportReader] {
        var readers: [any DeliveryReportReader] = []
        if let twilio = delivery.twilio, let callback = twilio.statusCallback {
            // Twilio signs with the auth token; with an API key, `password` is the key's secret, which does not sign.
            readers.append(TwilioReportReader(callbackURL: callback, authToken: delivery.twilioAuthToken ?? twilio.password))
        }
        if delivery.smsProvider == .webhook, let secret = delivery.webhookSecret { readers.append(try WebhookReportReader(secret: secret)) }
        if let token = delivery.msg91ReportToken { readers.append(MSG91ReportReader(token: token)) }
        return readers
    }

    /// - `OTPGATE_DELIVERY=console|discard`: that sender for every channel (refused in production unless
    ///   `OTPGATE_ALLOW_CONSOLE_IN_PRODUCTION=true`).
    /// - Otherwise each configured provider serves its channel; a channel without one uses the console in development
    ///   (or in production with the override) and is not served in production.
    /// - Production with no provider at all does not start.
    public static func routes(_ settings: ServerSettings, clock: any Clock = SystemClock()) throws -> DeliveryRoutes {
        let delivery = settings.delivery
        let production = settings.environment == .production
        if let forced = delivery.forced {
            if production && !settings.allowConsoleInProduction {
                throw ConfigurationError(
                    "OTPGATE_DELIVERY=\(forced.rawValue) is a development sender and is refused in production; unset it and configure OTPGATE_SMTP_URL or OTPGATE_SMS_PROVIDER (or set OTPGATE_ALLOW_CONSOLE_IN_PRODUCTION=true)"
                )
            }
            return DeliveryRoutes(every: forced == .console ? ConsoleSender() : DiscardSender())
        }
        var senders: [Channel: any MessageSender] = [:]
        if let smtp = delivery.smtp {
            do {
                senders[.email] = try SMTPSender(smtp)
            } catch {
                throw ConfigurationError("OTPGATE_SMTP_CA_FILE could not be loaded as PEM certificates")
            }
        }
        switch delivery.smsProvider {
        case .webhook?:
            if let url = delivery.webhookURL, let secret = delivery.webhookSecret {
                senders[.sms] = try WebhookSMSSender(url: url, secret: secret, dlt: delivery.dlt, clock: clock)
            }
        case .twilio?: if let twilio = delivery.twilio { senders[.sms] = TwilioSMSSender(twilio) }
        case .msg91?:
            if var msg91 = delivery.msg91 {
                msg91.reportsDelivery = delivery.msg91ReportToken != nil
                senders[.sms] = MSG91SMSSender(msg91)
            }
        case nil: break
        }
        if production && senders.isEmpty && !settings.allowConsoleInProduction {
            throw ConfigurationError(
                "OTPGATE_ENV=production has no delivery provider: set OTPGATE_SMTP_URL and OTPGATE_SMTP_FROM (email) or OTPGATE_SMS_PROVIDER with its settings (sms); see docs/DELIVERY.md"
            )
        }
        if !production || settings.allowConsoleInProduction {
            for channel in Channel.allCases where senders[channel] == nil { senders[channel] = ConsoleSender() }
        }
        return DeliveryRoutes(senders)
    }
}
