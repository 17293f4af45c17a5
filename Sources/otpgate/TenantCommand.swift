import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateServer

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants.",
        subcommands: [Create.self, List.self, Policy.self, TenantDeliveryCommand.self, TestDestinationCommand.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant and its first API key (shown once).")
        @Argument(help: "The tenant's name") var name: String
        @Flag(help: "End with one JSON line {\"tenant_id\", \"api_key\"}") var json = false
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            try await Bootstrap.withStore(settings) { store in
                let created = try await TenantAdmin(store: store, audit: settings.cliAuditActor).createTenant(name: name)
                print("tenant \(created.tenant.id) \"\(created.tenant.name)\" created")
                print("API key \(created.keyID), shown once and stored only as a hash:")
                if json {
                    print(JSONLine.encode(["tenant_id": created.tenant.id, "key_id": created.keyID, "api_key": created.apiKey]))
                } else {
                    print(created.apiKey)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")
        @Flag(help: "One JSON line per tenant") var json = false
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            try await Bootstrap.withStore(try await db.settings()) { store in
                for tenant in try await store.tenants() {
                    if json {
                        print(JSONLine.encode(["tenant_id": tenant.id, "name": tenant.name, "created_at": tenant.createdAt.iso8601]))
                    } else {
                        print("\(tenant.id)\t\(tenant.createdAt.iso8601)\t\(tenant.name)")
                    }
                }
            }
        }
    }

    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or change a tenant's limits (unset values use the server defaults).")
        @Argument(help: "Tenant id") var tenant: String
        @Option(help: "Starts to one destination per window") var startsPerDestination: Int?
        @Option(help: "The window of --starts-per-destination, in seconds") var startWindowSeconds: Int?
        @Option(help: "Consecutive failed checks that lock a destination") var failedChecksBeforeLock: Int?
        @Option(help: "How long a locked destination stays locked, in seconds") var lockSeconds: Int?
        @Option(help: "Requests per API key per second") var requestsPerKeyPerSecond: Int?
        @Option(help: "The first resend cooldown, in seconds (it doubles after each send)") var resendCooldownSeconds: Int?
        @Option(help: "Sends (first send and resends) per verification") var maxSends: Int?
        @Option(help: "Lifetime of a verification token, in seconds (30 to 600)") var tokenTtlSeconds: Int?
        @Option(help: "Seconds a fallback message waits for the first message's delivery report (5 to 300)")
        var fallbackAfterSeconds: Int?
        @Option(help: "The tenant's default fallback chain, e.g. \"email\" or \"sms\" (\"\" for none)")
        var fallbackChannels: String?
        @Option(help: "Country calling codes the tenant may send to, e.g. \"91,971\" (\"*\" for any)") var allowedCountries: String?
        @Option(help: "Starts per client address (client_ip) per client window") var startsPerClientIp: Int?
        @Option(help: "Starts per client fingerprint (client_fingerprint) per client window") var startsPerClientFingerprint: Int?
        @Option(help: "The SMS-pumping conversion guard for this tenant: on or off") var pumpingGuard: Switch?
        @Option(help: "Sends to one number prefix in the sliding hour before the guard judges its approval rate")
        var pumpingMinSends: Int?
        @Option(help: "The approval rate (percent) below which a prefix with enough sends is held") var pumpingMinApprovalPercent: Int?
        @Option(help: "SMS per UTC day (0: no limit for this tenant)") var smsPerDay: Int?
        @Option(help: "SMS per calendar month, UTC (0: no limit)") var smsPerMonth: Int?
        @Option(help: "Emails per UTC day (0: no limit)") var emailPerDay: Int?
        @Option(help: "Emails per calendar month, UTC (0: no limit)") var emailPerMonth: Int?
        @Option(help: "Money per UTC day in the price table's currency, e.g. 500 (0: no limit)") var spendPerDay: String?
        @Option(help: "Money per calendar month, UTC (0: no limit)") var spendPerMonth: String?
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            try await Bootstrap.withStore(settings) { store in
                guard var overrides = try await store.tenant(id: tenant)?.policy else { throw ValidationError("no tenant \(tenant)") }
                if let v = startsPerDestination { overrides.startsPerDestination = v }
                if let v = startWindowSeconds { overrides.startWindowSeconds = v }
                if let v = failedChecksBeforeLock { overrides.failedChecksBeforeLock = v }
                if let v = lockSeconds { overrides.lockSeconds = v }
                if let v = requestsPerKeyPerSecond { overrides.requestsPerKeyPerSecond = v }
                if let v = resendCooldownSeconds { overrides.resendCooldownSeconds = v }
                if let v = maxSends { overrides.maxSends = v }
                if let v = tokenTtlSeconds { overrides.tokenTTLSeconds = v }
                if let v = fallbackAfterSeconds { overrides.fallbackAfterSeconds = v }
                if let v = fallbackChannels { overrides.fallbackChannels = try ServerSettings.channels(v, setting: "--fallback-channels") }
                if let v = allowedCountries { overrides.allowedCountries = try ServerSettings.countryCodes(v, setting: "--allowed-countries") }
                if let v = startsPerClientIp { overrides.startsPerClientIP = v }
                if let v = startsPerClientFingerprint { overrides.startsPerClientFingerprint = v }
                if let v = pumpingGuard { overrides.pumpingGuard = v == .on }
                if let v = pumpingMinSends { overrides.pumpingMinSends = v }
                if let v = pumpingMinApprovalPercent { overrides.pumpingMinApprovalPercent = v }
                if let v = smsPerDay { overrides.smsPerDay = v }
                if let v = smsPerMonth { overrides.smsPerMonth = v }
                if let v = emailPerDay { overrides.emailPerDay = v }
                if let v = emailPerMonth { overrides.emailPerMonth = v }
                if let v = spendPerDay { overrides.spendPerDayMicros = Int(try ServerSettings.money(v, setting: "--spend-per-day") ?? 0) }
                if let v = spendPerMonth { overrides.spendPerMonthMicros = Int(try ServerSettings.money(v, setting: "--spend-per-month") ?? 0) }
                let policy = settings.policy.applying(overrides)
                try ServerSettings.validate(policy)
                if (policy.budgets.spendPerDay != nil || policy.budgets.spendPerMonth != nil) && policy.prices.isEmpty {
                    throw ValidationError("money budgets price messages by the deployment's OTPGATE_PRICE_TABLE, and none is set")
                }
                _ = try await store.updateTenantPolicy(
                    id: tenant, overrides: overrides,
                    audit: settings.cliAuditActor?.entry(
                        AuditAction.policyChanged, tenantID: tenant, subject: tenant, at: SystemClock().now(), detail: ["overrides": overrides.json]))
                print(overrides.jsonText)
            }
        }
    }
}

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Manage API keys.", subcommands: [Create.self, Revoke.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create another API key for a tenant (shown once).")
        @Option(help: "Tenant id") var tenant: String
        @Flag(help: "End with one JSON line {\"key_id\", \"api_key\"}") var json = false
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            try await Bootstrap.withStore(settings) { store in
                let created = try await TenantAdmin(store: store, audit: settings.cliAuditActor).createKey(tenantID: tenant)
                print("API key \(created.keyID) for \(tenant), shown once and stored only as a hash:")
                print(json ? JSONLine.encode(["tenant_id": tenant, "key_id": created.keyID, "api_key": created.apiKey]) : created.apiKey)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key; running servers stop accepting it within seconds.")
        @Argument(help: "Key id (key_…)") var keyID: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            try await Bootstrap.withStore(settings) { store in
                guard try await TenantAdmin(store: store, audit: settings.cliAuditActor).revokeKey(id: keyID) else {
                    throw ValidationError("no active key \(keyID)")
                }
                print("revoked \(keyID)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's keys (prefixes only).")
        @Option(help: "Tenant id") var tenant: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            try await Bootstrap.withStore(try await db.settings()) { store in
                for key in try await store.apiKeys(tenantID: tenant) {
                    print("\(key.id)\t\(key.prefix)…\t\(key.createdAt.iso8601)\t\(key.revokedAt.map { "revoked " + $0.iso8601 } ?? "active")")
                }
            }
        }
    }
}

enum JSONLine {
    /// One compact JSON object, keys sorted.
    static func encode(_ object: [String: String]) -> String {
        JSONValue.object(object.mapValues(JSONValue.string)).canonicalText
    }
}
