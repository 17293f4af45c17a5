/// Tenants' message templates. Read-mostly: the delivery worker caches a tenant's templates for a few seconds. Each
/// change writes its audit entry (nil with auditing off) in its own transaction.
public protocol TemplateStore: Sendable {
    /// Inserts or replaces the template with the same tenant, purpose, locale and channel.
    func saveTemplate(_ template: MessageTemplate, audit: AuditEntry?) async throws
    /// Every template of the tenant, by purpose, locale and channel.
    func templates(tenantID: String) async throws -> [MessageTemplate]
    /// Whether there was one to delete.
    func deleteTemplate(tenantID: String, purpose: String, locale: String, channel: Channel, audit: AuditEntry?) async throws -> Bool
}

extension Array where Element == MessageTemplate {
    /// The template for a message: its purpose in its locale, then the locale's language, then `en`; then the same for
    /// the `default` purpose. `nil`: the built-in wording.
    public func best(purpose: String?, locale: String?, channel: Channel) -> MessageTemplate? {
        // A request's tag in any case (HI-in) finds the template saved as hi-IN.
        let parts = (locale ?? "en").split(separator: "-")
        let language = (parts.first.map(String.init) ?? "en").lowercased()
        let locale = parts.count > 1 ? language + "-" + parts[1].uppercased() : language
        for candidatePurpose in [purpose, "default"].compactMap({ $0 }) {
            for candidateLocale in [locale, language, "en"] {
                if let hit = first(where: { $0.channel == channel && $0.purpose == candidatePurpose && $0.locale == candidateLocale }) { return hit }
            }
        }
        return nil
    }
}
