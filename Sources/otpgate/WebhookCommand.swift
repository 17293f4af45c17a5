import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateServer

/// `otpgate webhook set | show | delete | deliveries`: a tenant's webhook endpoint, with the rules of `PUT /v1/webhook`.
struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook", abstract: "Manage a tenant's webhook endpoint and see its recent deliveries.",
        subcommands: [Set.self, Show.self, Delete.self, Deliveries.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or change the endpoint; prints the signing secret when it is new (created or --rotate-secret).")
        @Argument(help: "Tenant id") var tenant: String
        @Option(help: "The https URL events are POSTed to (http outside production)") var url: String
        @Option(help: "Comma-separated event types (default: all): \(WebhookEventType.allCases.map(\.rawValue).joined(separator: ", "))")
        var events: String?
        @Flag(help: "Replace the signing secret") var rotateSecret = false
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            let url: String
            let types: Swift.Set<WebhookEventType>
            do throws(FieldRefusal) {
                url = try WebhookRules.validatedURL(self.url, allowHTTP: settings.environment != .production)
                types = try WebhookRules.events(events.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } })
            } catch {
                throw ValidationError("--\(error.field) \(error.reason)")
            }
            let (tenant, rotate) = (self.tenant, rotateSecret)
            let secret = try await Bootstrap.withStore(settings) { store -> String? in
                guard try await store.tenant(id: tenant) != nil else { throw ValidationError("no tenant \(tenant)") }
                let existing = try await store.webhookEndpoint(tenantID: tenant)
                let (endpoint, secret) = try WebhookRules.endpoint(
                    tenantID: tenant, url: url, events: types, existing: existing, rotate: rotate,
                    cipher: try await loadDataCipher(store: store, settings: settings), random: SystemRandomSource(), now: SystemClock().now())
                let replacing = existing != nil && secret != nil
                let stored = try await store.saveWebhookEndpoint(
                    endpoint, replacingSecret: replacing,
                    audit: settings.cliAuditActor?.webhookSaved(endpoint, secretReplaced: replacing, at: endpoint.updatedAt))
                return stored.sealedSecret == endpoint.sealedSecret ? secret : nil
            }
            print("webhook for \(tenant): \(url) (\(types.sorted().map(\.rawValue).joined(separator: ", ")))")
            if let secret { print("signing secret (shown once): \(secret)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the endpoint (never its secret).")
        @Argument(help: "Tenant id") var tenant: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let tenant = self.tenant
            guard let endpoint = try await Bootstrap.withStore(try await db.settings(), { try await $0.webhookEndpoint(tenantID: tenant) }) else {
                throw ValidationError("tenant \(tenant) has no webhook endpoint")
            }
            print("\(endpoint.url)\t\(endpoint.events.sorted().map(\.rawValue).joined(separator: ","))\tupdated \(endpoint.updatedAt.iso8601)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the endpoint (events not yet delivered then fail).")
        @Argument(help: "Tenant id") var tenant: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let tenant = self.tenant
            let settings = try await db.settings()
            let audit = settings.cliAuditActor?.entry(AuditAction.webhookDeleted, tenantID: tenant, subject: tenant, at: SystemClock().now())
            guard try await Bootstrap.withStore(settings, { try await $0.deleteWebhookEndpoint(tenantID: tenant, audit: audit) }) else {
                throw ValidationError("tenant \(tenant) has no webhook endpoint")
            }
            print("deleted the webhook endpoint of \(tenant)")
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tenant's most recent events and what became of each, newest first.")
        @Argument(help: "Tenant id") var tenant: String
        @Option(help: "How many (1 to 200)") var limit = 20
        @OptionGroup var db: DatabaseOption

        func validate() throws { guard (1...200).contains(limit) else { throw ValidationError("--limit must be 1 to 200") } }

        func run() async throws {
            let (tenant, limit) = (self.tenant, self.limit)
            let events = try await Bootstrap.withStore(try await db.settings()) { try await $0.webhookEvents(tenantID: tenant, limit: limit) }
            for e in events {
                let status = e.lastStatus.map { "HTTP \($0)" } ?? "-"
                print(
                    "\(e.createdAt.iso8601)\t\(e.type.rawValue)\t\(e.id)\t\(e.state.rawValue)\tattempts=\(e.attempts)\t\(status)\t\(e.lastError ?? "")"
                )
            }
        }
    }
}
