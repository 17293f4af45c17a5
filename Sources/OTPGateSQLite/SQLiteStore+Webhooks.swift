import Foundation
import GRDB
public import OTPGateCore

extension SQLiteStore {
    /// Writes an event for the tenant's endpoint if it takes this type (nothing otherwise), in the caller's
    /// transaction. The id makes a second write of the same event a no-op.
    static func recordEvent(
        _ db: Database, _ type: WebhookEventType, subject: String, tenantID: String, verificationID: String, messageID: String? = nil,
        channel: Channel?, purpose: String?, error: String? = nil, detail: String? = nil, now: Timestamp
    ) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO webhook_events (id, tenant_id, type, verification_id, message_id, channel, purpose, error, detail, state,
                    attempts, created_at, next_attempt_at)
                SELECT ?, tenant_id, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ? FROM webhook_endpoints
                WHERE tenant_id = ? AND instr(events, ?) > 0
                ON CONFLICT (id) DO NOTHING
                """
        ).execute(arguments: [
            WebhookEvent.id(subject: subject, type: type), type.rawValue, verificationID, messageID, channel?.rawValue, purpose, error,
            detail, now.milliseconds, now.milliseconds, tenantID, ",\(type.rawValue),",
        ])
    }

    /// `delivery.failed` for each of these messages that is now `failed`.
    static func recordDeliveryFailures(_ db: Database, messageIDs: [String], now: Timestamp) throws {
        for id in messageIDs {
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT o.tenant_id, o.verification_id, o.channel, o.last_error, v.purpose FROM outbox o
                            LEFT JOIN verifications v ON v.id = o.verification_id WHERE o.id = ? AND o.state = 'failed'
                            """), arguments: [id])
            else { continue }
            try recordEvent(
                db, .deliveryFailed, subject: id, tenantID: row["tenant_id"], verificationID: row["verification_id"], messageID: id,
                channel: Channel(rawValue: row["channel"]), purpose: row["purpose"], error: row["last_error"], now: now)
        }
    }

    static func webhookEvent(_ row: Row) throws -> WebhookEvent {
        guard let type = WebhookEventType(rawValue: row["type"]), let state = WebhookEventState(rawValue: row["state"]) else {
            throw StoreError(.corrupt, "webhook event with an unknown type or state")
        }
        return WebhookEvent(
            id: row["id"], tenantID: row["tenant_id"], type: type, verificationID: row["verification_id"], messageID: row["message_id"],
            channel: (row["channel"] as String?).flatMap(Channel.init(rawValue:)), purpose: row["purpose"], error: row["error"],
            detail: row["detail"],
            state: state,
            attempts: row["attempts"], createdAt: Timestamp(milliseconds: row["created_at"]),
            nextAttemptAt: Timestamp(milliseconds: row["next_attempt_at"]),
            leaseUntil: (row["lease_until"] as Int64?).map(Timestamp.init(milliseconds:)), lastStatus: row["last_status"],
            lastError: row["last_error"], finishedAt: (row["finished_at"] as Int64?).map(Timestamp.init(milliseconds:)))
    }

    static func webhookEndpoint(_ row: Row) -> WebhookEndpoint {
        WebhookEndpoint(
            tenantID: row["tenant_id"], url: row["url"], sealedSecret: Array(row["secret"] as Data),
            events: WebhookEventType.parse(stored: row["events"]), createdAt: Timestamp(milliseconds: row["created_at"]),
            updatedAt: Timestamp(milliseconds: row["updated_at"]))
    }

    public func saveWebhookEndpoint(_ e: WebhookEndpoint, replacingSecret: Bool, audit: AuditEntry?) async throws -> WebhookEndpoint {
        try await write { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    INSERT INTO webhook_endpoints (tenant_id, url, secret, events, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, events = excluded.events, updated_at = excluded.updated_at,
                        secret = CASE WHEN ? THEN excluded.secret ELSE webhook_endpoints.secret END
                    RETURNING *
                    """,
                arguments: [
                    e.tenantID, e.url, Data(e.sealedSecret), WebhookEventType.stored(e.events), e.createdAt.milliseconds, e.updatedAt.milliseconds,
                    replacingSecret,
                ])
            guard let row else { throw StoreError(.corrupt, "the webhook endpoint upsert returned no row") }
            try Self.insertAudit(db, audit)
            return Self.webhookEndpoint(row)
        }
    }

    public func webhookEndpoint(tenantID: String) async throws -> WebhookEndpoint? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM webhook_endpoints WHERE tenant_id = ?"), arguments: [tenantID]).map(
                Self.webhookEndpoint)
        }
    }

    public func deleteWebhookEndpoint(tenantID: String, audit: AuditEntry?) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM webhook_endpoints WHERE tenant_id = ?", arguments: [tenantID])
            let changed = db.changesCount > 0
            try Self.insertAudit(db, audit, if: changed)
            return changed
        }
    }

    public func claimWebhookEvents(limit: Int, now: Timestamp, leaseUntil: Timestamp) async throws -> [WebhookEvent] {
        try await write { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        UPDATE webhook_events SET state = 'sending', attempts = attempts + 1, lease_until = ?, next_attempt_at = ?
                        WHERE id IN (
                            SELECT id FROM webhook_events WHERE state IN ('pending', 'sending') AND next_attempt_at <= ?
                            ORDER BY next_attempt_at LIMIT ?)
                        RETURNING *
                        """),
                arguments: [leaseUntil.milliseconds, leaseUntil.milliseconds, now.milliseconds, limit]
            ).map(Self.webhookEvent).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    public func finishWebhookEvents(_ results: [WebhookResult], now: Timestamp) async throws {
        guard !results.isEmpty else { return }
        try await write { db in
            for r in results {
                try db.cachedStatement(
                    sql: """
                        UPDATE webhook_events SET state = ?, lease_until = NULL, next_attempt_at = coalesce(?, next_attempt_at),
                            last_status = ?, last_error = ?, finished_at = CASE WHEN ? = 'pending' THEN NULL ELSE ? END
                        WHERE id = ? AND attempts = ? AND state = 'sending'
                        """
                ).execute(arguments: [
                    r.state.rawValue, r.nextAttemptAt?.milliseconds, r.status, r.error, r.state.rawValue, now.milliseconds, r.eventID, r.attempt,
                ])
            }
        }
    }

    public func nextWebhookDue() async throws -> Timestamp? {
        try await read { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT min(next_attempt_at) FROM webhook_events WHERE state IN ('pending', 'sending')"))
                .map(Timestamp.init(milliseconds:))
        }
    }

    public func webhookEvents(tenantID: String, limit: Int) async throws -> [WebhookEvent] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM webhook_events WHERE tenant_id = ? ORDER BY created_at DESC, id DESC LIMIT ?", arguments: [tenantID, limit]
            ).map(Self.webhookEvent)
        }
    }

    // MARK: tenant delivery settings

    public func saveTenantDelivery(tenantID: String, sealedSettings: [UInt8], now: Timestamp, audit: AuditEntry?) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO tenant_delivery (tenant_id, settings, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
                    """, arguments: [tenantID, Data(sealedSettings), now.milliseconds])
            try Self.insertAudit(db, audit)
        }
    }

    public func tenantDelivery(tenantID: String) async throws -> [UInt8]? {
        try await read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT settings FROM tenant_delivery WHERE tenant_id = ?"), arguments: [tenantID]).map(
                Array.init)
        }
    }

    public func deleteTenantDelivery(tenantID: String, audit: AuditEntry?) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM tenant_delivery WHERE tenant_id = ?", arguments: [tenantID])
            let changed = db.changesCount > 0
            try Self.insertAudit(db, audit, if: changed)
            return changed
        }
    }
}
