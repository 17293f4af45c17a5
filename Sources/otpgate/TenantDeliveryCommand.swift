import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateDelivery
import OTPGateServer

/// `otpgate tenant delivery TENANT …`: a tenant's own DLT registration and SMS gateway account, sealed at rest. Values
/// given are changed, the others kept; `--clear` removes them all (the tenant then uses the deployment's).
struct TenantDeliveryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delivery",
        abstract: "Show or change a tenant's own SMS sender, DLT registration and gateway account (secrets are sealed at rest).")

    @Argument(help: "Tenant id") var tenant: String
    @Option(help: "The 6-character DLT sender header") var smsSender: String?
    @Option(help: "The DLT principal entity (PE) id") var dltEntityId: String?
    @Option(help: "The DLT content template id of the built-in text") var dltTemplateId: String?
    @Option(help: "Its own gateway account: webhook, twilio or msg91 (\"\" for the deployment's)") var smsProvider: String?
    @Option(help: "webhook: the gateway URL") var webhookUrl: String?
    @Option(help: "webhook: the signing secret (whsec_…)") var webhookSecret: String?
    @Option(help: "twilio: the account SID (AC…)") var twilioAccountSid: String?
    @Option(help: "twilio: the auth token") var twilioAuthToken: String?
    @Option(help: "twilio: the sending number or sender id") var twilioFrom: String?
    @Option(help: "msg91: the auth key") var msg91AuthKey: String?
    @Flag(help: "Remove the tenant's settings") var clear = false
    @OptionGroup var db: DatabaseOption

    func run() async throws {
        let settings = try await db.settings()
        let tenant = self.tenant
        let summary = try await Bootstrap.withStore(settings) { store -> String in
            guard try await store.tenant(id: tenant) != nil else { throw ValidationError("no tenant \(tenant)") }
            if clear {
                _ = try await store.deleteTenantDelivery(
                    tenantID: tenant,
                    audit: settings.cliAuditActor?.entry(AuditAction.deliveryRemoved, tenantID: tenant, subject: tenant, at: SystemClock().now()))
                return "cleared: \(tenant) uses the deployment's SMS delivery"
            }
            let cipher = try await loadDataCipher(store: store, settings: settings)
            var current =
                try await store.tenantDelivery(tenantID: tenant).map { try TenantDeliverySettings.open($0, with: cipher, tenantID: tenant) }
                ?? TenantDeliverySettings()
            let changes = [
                smsSender, dltEntityId, dltTemplateId, smsProvider, webhookUrl, webhookSecret, twilioAccountSid, twilioAuthToken, twilioFrom,
                msg91AuthKey,
            ]
            guard changes.contains(where: { $0 != nil }) else { return current.summary }
            if let v = smsSender { current.dlt.sender = v.isEmpty ? nil : v }
            if let v = dltEntityId { current.dlt.entityID = v.isEmpty ? nil : v }
            if let v = dltTemplateId { current.dlt.templateID = v.isEmpty ? nil : v }
            if let v = smsProvider {
                guard v.isEmpty || TenantDeliverySettings.Provider(rawValue: v) != nil else {
                    throw ValidationError("--sms-provider must be webhook, twilio, msg91 or \"\"")
                }
                current.provider = TenantDeliverySettings.Provider(rawValue: v)
            }
            if let v = webhookUrl { current.webhookURL = v.isEmpty ? nil : v }
            if let v = webhookSecret { current.webhookSecret = v.isEmpty ? nil : v }
            if let v = twilioAccountSid { current.twilioAccountSID = v.isEmpty ? nil : v }
            if let v = twilioAuthToken { current.twilioAuthToken = v.isEmpty ? nil : v }
            if let v = twilioFrom { current.twilioFrom = v.isEmpty ? nil : v }
            if let v = msg91AuthKey { current.msg91AuthKey = v.isEmpty ? nil : v }
            let valid: TenantDeliverySettings
            do throws(FieldRefusal) {
                valid = try current.validated()
            } catch {
                throw ValidationError("--\(error.field) \(error.reason)")
            }
            let now = SystemClock().now()
            // The provider only: the gateway's URL may carry a credential.
            try await store.saveTenantDelivery(
                tenantID: tenant, sealedSettings: try valid.sealed(with: cipher, tenantID: tenant), now: now,
                audit: settings.cliAuditActor?.entry(
                    AuditAction.deliveryChanged, tenantID: tenant, subject: tenant, at: now,
                    detail: ["provider": .string(valid.provider?.rawValue ?? "deployment")]))
            return valid.summary
        }
        print(summary)
    }
}
