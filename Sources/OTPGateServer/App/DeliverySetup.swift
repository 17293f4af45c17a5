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

    /// A tenant's own SMS sender: its gateway account if it has one, else the deployment's gateway, under its DLT
    /// registration (each value it leaves unset is the deployment's). Throws when neither names a gateway.
    public static func tenantSMSSender(_ tenant: TenantDeliverySettings, deployment: DeliverySettings, clock: any Clock = SystemClock()) throws
        -> any MessageSender
    {
        var dlt = deployment.dlt
        if let v = tenant.dlt.sender { dlt.sender = v }
        if let v = tenant.dlt.entityID { dlt.entityID = v }
        if let v = tenant.dlt.templateID { dlt.templateID = v }
        switch tenant.provider {
        case .webhook?:
            // Its reports cannot reach this server (they would be signed with its own secret): acceptance settles a fallback.
            return try WebhookSMSSender(
                url: tenant.webhookURL ?? "", secret: tenant.webhookSecret ?? "", dlt: dlt, clock: clock, name: "tenant-webhook",
                reportsDelivery: false)
        case .twilio?:
            guard let account = tenant.twilioAccountSID, let token = tenant.twilioAuthToken else {
                throw ConfigurationError("twilio needs its account")
            }
            return TwilioSMSSender(
                .init(
                    accountSID: account, username: account, password: token, from: tenant.twilioFrom, messagingServiceSID: nil, statusCallback: nil,
                    baseURL: deployment.twilio?.baseURL ?? "https://api.twilio.com"))
        case .msg91?:
            var settings = MSG91SMSSender.Settings(authKey: tenant.msg91AuthKey ?? "", dlt: dlt)
            if let base = deployment.msg91 {
                settings.route = base.route
                settings.baseURL = base.baseURL
            }
            return MSG91SMSSender(settings)
        case nil:
            switch deployment.smsProvider {
            case .webhook?:
                if let url = deployment.webhookURL, let secret = deployment.webhookSecret {
                    return try WebhookSMSSender(url: url, secret: secret, dlt: dlt, clock: clock)
                }
            case .twilio?:
                if let twilio = deployment.twilio { return TwilioSMSSender(twilio) }
            case .msg91?:
                if var msg91 = deployment.msg91 {
                    msg91.dlt = dlt
                    msg91.reportsDelivery = deployment.msg91ReportToken != nil
                    return MSG91SMSSender(msg91)
                }
            case nil: break
            }
            throw ConfigurationError("the deployment has no SMS gateway for the tenant's DLT registration")
        }
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
