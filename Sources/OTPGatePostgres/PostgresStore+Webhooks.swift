import Foundation
public import OTPGateCore
import PostgresNIO

extension PostgresStore {
    static func webhookEvent(_ row: PostgresRandomAccessRow) throws -> WebhookEvent {
        guard let type = WebhookEventType(rawValue: try row["type"].decode(String.self)),
            let state = WebhookEventState(rawValue: try row["state"].decode(String.self))
        else { throw StoreError(.corrupt, "webhook event with an unknown type or state") }
        return WebhookEvent(
            id: try row["id"].decode(String.self), tenantID: try row["tenant_id"].decode(String.self), type: type,
            verificationID: try row["verification_id"].decode(String.self), messageID: try row["message_id"].decode(String?.self),
            channel: try row["channel"].decode(String?.self).flatMap(OTPGateCore.Channel.init(rawValue:)),
            purpose: try row["purpose"].decode(String?.self), error: try row["error"].decode(String?.self),
            detail: try row["detail"].decode(String?.self), state: state,
            attempts: try row["attempts"].decode(Int.self), createdAt: Timestamp(milliseconds: try row["created_at"].decode(Int64.self)),
            nextAttemptAt: Timestamp(milliseconds: try row["next_attempt_at"].decode(Int64.self)),
            leaseUntil: try row["lease_until"].decode(Int64?.self).map(Timestamp.init(milliseconds:)),
            lastStatus: try row["last_status"].decode(Int?.self), lastError: try row["last_error"].decode(String?.self),
            finishedAt: try row["finished_at"].decode(Int64?.self).map(Timestamp.init(milliseconds:)))
    }

    static func webhookEndpoint(_ row: PostgresRandomAccessRow) throws -> WebhookEndpoint {
        WebhookEndpoint(
            tenantID: try row["tenant_id"].decode(String.self), url: try row["url"].decode(String.self),
            sealedSecret: Array(buffer: try row["secret"].decode(ByteBuffer.self)),
            events: WebhookEventType.parse(stored: try row["events"].decode(String.self)),
            createdAt: Timestamp(milliseconds: try row["created_at"].decode(Int64.self)),
            updatedAt: Timestamp(milliseconds: try row["updated_at"].decode(Int64.self)))
    }

    public func saveWebhookEndpoint(_ e: WebhookEndpoint, replacingSecret: Bool, audit: AuditEntry?) async throws -> WebhookEndpoint {
        try await audited(audit) { connection in
            let stored = try await self.rows(
                """
                INSERT INTO webhook_endpoints (tenant_id, url, secret, events, created_at, updated_at)
                VALUES (\(e.tenantID), \(e.url), \(ByteBuffer(bytes: e.sealedSecret)), \(WebhookEventType.stored(e.events)),
                    \(e.createdAt.milliseconds), \(e.updatedAt.milliseconds))
                ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, events = excluded.events, updated_at = excluded.updated_at,
                    secret = CASE WHEN \(replacingSecret) THEN excluded.secret ELSE webhook_endpoints.secret END
                RETURNING *
                """, on: connection)
            guard let row = stored.first else { throw StoreError(.corrupt, "the webhook endpoint upsert returned no row") }
            return (try Self.webhookEndpoint(row), true)
        }
    }

    public func webhookEndpoint(tenantID: String) async throws -> WebhookEndpoint? {
        try await rows("SELECT * FROM webhook_endpoints WHERE tenant_id = \(tenantID)").first.map(Self.webhookEndpoint)
    }

    public func deleteWebhookEndpoint(tenantID: String, audit: AuditEntry?) async throws -> Bool {
        try await audited(audit) { connection in
            let changed = !(try await self.rows("DELETE FROM webhook_endpoints WHERE tenant_id = \(tenantID) RETURNING 1", on: connection).isEmpty)
            return (changed, changed)
        }
    }

    /// `FOR UPDATE SKIP LOCKED`: dispatchers on every instance claim disjoint events without waiting.
    public func claimWebhookEvents(limit: Int, now: Timestamp, leaseUntil: Timestamp) async throws -> [WebhookEvent] {
        try await rows(
            """
            UPDATE webhook_events SET state = 'sending', attempts = attempts + 1, lease_until = \(leaseUntil.milliseconds),
                next_attempt_at = \(leaseUntil.milliseconds)
            WHERE id IN (
                SELECT id FROM webhook_events WHERE state IN ('pending', 'sending') AND next_attempt_at <= \(now.milliseconds)
                ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING *
            """
        ).map(Self.webhookEvent).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    public func finishWebhookEvents(_ results: [WebhookResult], now: Timestamp) async throws {
        guard !results.isEmpty else { return }
        var input = BatchJSON()
        for r in results {
            var row: [String: JSONValue] = [
                "id": .string(r.eventID), "attempts": .int(r.attempt), "state": .string(r.state.rawValue), "now": .time(now),
                "next_attempt_at": .time(r.nextAttemptAt), "error": .text(r.error),
            ]
            row["status"] = r.status.map { .int($0) }
            input.append(row)
        }
        let statement = FinishWebhookEvents(rows: input)
        _ = try await connection { connection in try await self.database.execute(statement, on: connection) }
    }

    public func nextWebhookDue() async throws -> Timestamp? {
        try await rows("SELECT min(next_attempt_at) AS due FROM webhook_events WHERE state IN ('pending', 'sending')")
            .first.flatMap { try $0["due"].decode(Int64?.self) }.map(Timestamp.init(milliseconds:))
    }

    public func webhookEvents(tenantID: String, limit: Int) async throws -> [WebhookEvent] {
        try await rows("SELECT * FROM webhook_events WHERE tenant_id = \(tenantID) ORDER BY created_at DESC, id DESC LIMIT \(limit)")
            .map(Self.webhookEvent)
    }

    // MARK: tenant delivery settings

    public func saveTenantDelivery(tenantID: String, sealedSettings: [UInt8], now: Timestamp, audit: AuditEntry?) async throws {
        try await audited(audit) { connection in
            _ = try await self.rows(
                """
                INSERT INTO tenant_delivery (tenant_id, settings, updated_at) VALUES (\(tenantID), \(ByteBuffer(bytes: sealedSettings)), \(now.milliseconds))
                ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
                """, on: connection)
            return ((), true)
        }
    }

    public func tenantDelivery(tenantID: String) async throws -> [UInt8]? {
        try await rows("SELECT settings FROM tenant_delivery WHERE tenant_id = \(tenantID)").first.map {
            Array(buffer: try $0["settings"].decode(ByteBuffer.self))
        }
    }

    public func deleteTenantDelivery(tenantID: String, audit: AuditEntry?) async throws -> Bool {
        try await audited(audit) { connection in
            let changed = !(try await self.rows("DELETE FROM tenant_delivery WHERE tenant_id = \(tenantID) RETURNING 1", on: connection).isEmpty)
            return (changed, changed)
        }
    }
}

/// Webhook attempts' outcomes, fenced by the attempt each claim returned.
struct FinishWebhookEvents: BatchStatement {
    static let sql = """
        UPDATE webhook_events SET state = x.state, lease_until = NULL,
            next_attempt_at = COALESCE(x.next_attempt_at, webhook_events.next_attempt_at), last_status = x.status, last_error = x.error,
            finished_at = CASE WHEN x.state = 'pending' THEN NULL ELSE x.now END
        FROM jsonb_to_recordset($1) AS x(id text, attempts int, state text, next_attempt_at bigint, status int, error text, now bigint)
        WHERE webhook_events.id = x.id AND webhook_events.attempts = x.attempts AND webhook_events.state = 'sending'
        """
    let rows: BatchJSON
}
