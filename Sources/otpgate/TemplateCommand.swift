import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateServer

/// `otpgate template set | list | delete`: a tenant's message templates, with the rules of `PUT /v1/templates/…`.
struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template", abstract: "Manage a tenant's message templates (per purpose, locale and channel).",
        subcommands: [Set.self, List.self, Delete.self])

    struct Key: ParsableArguments {
        @Option(help: "Tenant id") var tenant: String
        @Option(help: "Purpose (`default` serves every purpose without its own template)") var purpose: String
        @Option(help: "Locale: en, hi, hi-IN …") var locale: String
        @Option(help: "Channel: sms or email") var channel: String

        func validate() throws {
            guard Channel(rawValue: channel) != nil else { throw ValidationError("--channel must be sms or email") }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace a template; refused unless it parses and contains {{code}}. Prints what a person would get.")
        @OptionGroup var key: Key
        @Option(help: "The text (SMS) or plain-text part (email), in Mustache: {{code}}, {{minutes}}, {{brand}}, {{purpose}}") var body: String
        @Option(help: "Email subject") var subject: String?
        @Option(help: "A file holding the email's HTML part") var htmlFile: String?
        @Option(help: "SMS: India's DLT content template id the text is registered under") var dltTemplateId: String?
        @Option(help: "SMS: append the WebOTP line @DOMAIN #code") var webotpDomain: String?
        @Option(help: "SMS: append the Android SMS Retriever app hash (11 characters)") var androidAppHash: String?
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            var html: String?
            if let htmlFile {
                guard let data = FileManager.default.contents(atPath: htmlFile) else { throw ValidationError("--html-file cannot be read") }
                html = String(decoding: data, as: UTF8.self)
            }
            let template = MessageTemplate(
                tenantID: key.tenant, purpose: key.purpose, locale: key.locale, channel: Channel(rawValue: key.channel) ?? .sms, body: body,
                subject: subject, html: html, dltTemplateID: dltTemplateId, webOTPDomain: webotpDomain, androidAppHash: androidAppHash,
                updatedAt: SystemClock().now())
            let valid: MessageTemplate
            do throws(TemplateError) {
                valid = try TemplateRules.validated(template)
            } catch {
                throw ValidationError("--\(error.field.replacingOccurrences(of: "_", with: "-")) \(error.reason)")
            }
            let tenant = key.tenant
            try await Bootstrap.withStore(settings) { store in
                guard try await store.tenant(id: tenant) != nil else { throw ValidationError("no tenant \(tenant)") }
                try await store.saveTemplate(
                    valid,
                    audit: settings.cliAuditActor?.entry(
                        AuditAction.templateSaved, tenantID: tenant, subject: AuditAction.templateSubject(valid), at: valid.updatedAt))
            }
            print("saved \(valid.purpose)/\(valid.locale)/\(valid.channel.rawValue) for \(tenant)")
            if let preview = TemplateRules.preview(valid, brand: settings.brand) {
                print(valid.channel == .sms ? "preview (\(preview.encoding.rawValue), \(preview.segments) segment(s)):" : "preview:")
                print(preview.text)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's templates.")
        @Option(help: "Tenant id") var tenant: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            let tenant = self.tenant
            let templates = try await Bootstrap.withStore(settings) { store in try await store.templates(tenantID: tenant) }
            for t in templates {
                let dlt = t.dltTemplateID.map { " dlt=\($0)" } ?? ""
                print("\(t.purpose)\t\(t.locale)\t\(t.channel.rawValue)\(dlt)\t\(t.body.replacingOccurrences(of: "\n", with: "\\n"))")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a template (its messages go back to the default wording).")
        @OptionGroup var key: Key
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            let key = self.key
            let deleted = try await Bootstrap.withStore(settings) { store in
                let channel = Channel(rawValue: key.channel) ?? .sms
                return try await store.deleteTemplate(
                    tenantID: key.tenant, purpose: key.purpose, locale: key.locale, channel: channel,
                    audit: settings.cliAuditActor?.entry(
                        AuditAction.templateDeleted, tenantID: key.tenant,
                        subject: AuditAction.templateSubject(purpose: key.purpose, locale: key.locale, channel: channel), at: SystemClock().now()))
            }
            guard deleted else { throw ValidationError("no template \(key.purpose)/\(key.locale)/\(key.channel) for \(key.tenant)") }
            print("deleted \(key.purpose)/\(key.locale)/\(key.channel) for \(key.tenant)")
        }
    }
}
