public import OTPGateCore
import PostgresNIO

extension PostgresStore {
    public func saveTemplate(_ t: MessageTemplate, audit: AuditEntry?) async throws {
        try await audited(audit) { connection in
            _ = try await self.rows(
                """
                INSERT INTO message_templates (tenant_id, purpose, locale, channel, body, subject, html, dlt_template_id, webotp_domain,
                    android_app_hash, updated_at)
                VALUES (\(t.tenantID), \(t.purpose), \(t.locale), \(t.channel.rawValue), \(t.body), \(t.subject), \(t.html), \(t.dltTemplateID),
                    \(t.webOTPDomain), \(t.androidAppHash), \(t.updatedAt.milliseconds))
                ON CONFLICT (tenant_id, purpose, locale, channel) DO UPDATE SET body = excluded.body, subject = excluded.subject,
                    html = excluded.html, dlt_template_id = excluded.dlt_template_id, webotp_domain = excluded.webotp_domain,
                    android_app_hash = excluded.android_app_hash, updated_at = excluded.updated_at
                """, on: connection)
            return ((), true)
        }
    }

    public func templates(tenantID: String) async throws -> [MessageTemplate] {
        try await rows("SELECT * FROM message_templates WHERE tenant_id = \(tenantID) ORDER BY purpose, locale, channel").map { row in
            guard let channel = OTPGateCore.Channel(rawValue: try row["channel"].decode(String.self)) else {
                throw StoreError(.corrupt, "template with an unknown channel")
            }
            return MessageTemplate(
                tenantID: try row["tenant_id"].decode(String.self), purpose: try row["purpose"].decode(String.self),
                locale: try row["locale"].decode(String.self), channel: channel, body: try row["body"].decode(String.self),
                subject: try row["subject"].decode(String?.self), html: try row["html"].decode(String?.self),
                dltTemplateID: try row["dlt_template_id"].decode(String?.self), webOTPDomain: try row["webotp_domain"].decode(String?.self),
                androidAppHash: try row["android_app_hash"].decode(String?.self),
                updatedAt: Timestamp(milliseconds: try row["updated_at"].decode(Int64.self)))
        }
    }

    public func deleteTemplate(
        tenantID: String, purpose: String, locale: String, channel: OTPGateCore.Channel, audit: AuditEntry?
    ) async throws -> Bool {
        try await audited(audit) { connection in
            let changed =
                !(try await self.rows(
                    """
                    DELETE FROM message_templates WHERE tenant_id = \(tenantID) AND purpose = \(purpose) AND locale = \(locale)
                        AND channel = \(channel.rawValue) RETURNING 1
                    """, on: connection
                ).isEmpty)
            return (changed, changed)
        }
    }
}
