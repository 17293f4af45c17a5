import GRDB
public import OTPGateCore

extension SQLiteStore {
    public func saveTemplate(_ t: MessageTemplate, audit: AuditEntry?) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO message_templates (tenant_id, purpose, locale, channel, body, subject, html, dlt_template_id, webotp_domain,
                        android_app_hash, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, purpose, locale, channel) DO UPDATE SET body = excluded.body, subject = excluded.subject,
                        html = excluded.html, dlt_template_id = excluded.dlt_template_id, webotp_domain = excluded.webotp_domain,
                        android_app_hash = excluded.android_app_hash, updated_at = excluded.updated_at
                    """,
                arguments: [
                    t.tenantID, t.purpose, t.locale, t.channel.rawValue, t.body, t.subject, t.html, t.dltTemplateID, t.webOTPDomain, t.androidAppHash,
                    t.updatedAt.milliseconds,
                ])
            try Self.insertAudit(db, audit)
        }
    }

    public func templates(tenantID: String) async throws -> [MessageTemplate] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM message_templates WHERE tenant_id = ? ORDER BY purpose, locale, channel", arguments: [tenantID])
                .map { row in
                    guard let channel = Channel(rawValue: row["channel"]) else { throw StoreError(.corrupt, "template with an unknown channel") }
                    return MessageTemplate(
                        tenantID: row["tenant_id"], purpose: row["purpose"], locale: row["locale"], channel: channel, body: row["body"],
                        subject: row["subject"], html: row["html"], dltTemplateID: row["dlt_template_id"], webOTPDomain: row["webotp_domain"],
                        androidAppHash: row["android_app_hash"], updatedAt: Timestamp(milliseconds: row["updated_at"]))
                }
        }
    }

    public func deleteTemplate(tenantID: String, purpose: String, locale: String, channel: Channel, audit: AuditEntry?) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM message_templates WHERE tenant_id = ? AND purpose = ? AND locale = ? AND channel = ?",
                arguments: [tenantID, purpose, locale, channel.rawValue])
            let changed = db.changesCount > 0
            try Self.insertAudit(db, audit, if: changed)
            return changed
        }
    }
}
