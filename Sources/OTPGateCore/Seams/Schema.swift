import Foundation

/// The versioned schema, written once for both databases. `{BLOB}` is the only word the dialects spell
/// differently; each store substitutes its own. Migrations are append-only: never edit one
/// that has shipped, add the next version instead.
public enum Schema {
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let statements: [String]
    }

    public struct Dialect: Sendable {
        public let blob: String
        /// An ever-growing integer primary key.
        public let serial: String

        public static let sqlite = Dialect(blob: "BLOB", serial: "INTEGER PRIMARY KEY AUTOINCREMENT")
        public static let postgres = Dialect(blob: "BYTEA", serial: "BIGSERIAL PRIMARY KEY")

        public func render(_ sql: String) -> String { sql.replacingAll("{BLOB}", with: blob).replacingAll("{SERIAL}", with: serial) }
    }

    public static let migrations: [Migration] = [
        Migration(
            version: 1, name: "core",
            statements: [
                """
                CREATE TABLE tenants (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, policy TEXT NOT NULL DEFAULT '{}', created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), key_hash {BLOB} NOT NULL UNIQUE,
                    prefix TEXT NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT)
                """,
                "CREATE INDEX api_keys_tenant ON api_keys (tenant_id)",
                "CREATE TABLE secrets (name TEXT PRIMARY KEY, value {BLOB} NOT NULL, created_at BIGINT NOT NULL)",
                """
                CREATE TABLE verifications (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, channel TEXT NOT NULL, destination TEXT NOT NULL,
                    purpose TEXT, locale TEXT, reference TEXT, context TEXT, code_length INTEGER NOT NULL,
                    code_hash {BLOB} NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
                    sends INTEGER NOT NULL, max_sends INTEGER NOT NULL, ttl_seconds INTEGER NOT NULL,
                    created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, last_sent_at BIGINT NOT NULL,
                    resend_available_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                "CREATE INDEX verifications_destination ON verifications (tenant_id, destination, created_at)",
                "CREATE INDEX verifications_pending_expiry ON verifications (expires_at) WHERE state = 'pending'",
                "CREATE INDEX verifications_updated ON verifications (updated_at)",
                """
                CREATE TABLE destinations (
                    tenant_id TEXT NOT NULL, destination TEXT NOT NULL, failed_checks INTEGER NOT NULL DEFAULT 0,
                    first_failure_at BIGINT, locked_until BIGINT, PRIMARY KEY (tenant_id, destination))
                """,
                """
                CREATE TABLE idempotency_keys (
                    tenant_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, request_hash {BLOB} NOT NULL,
                    response TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, idempotency_key))
                """,
                "CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)",
                """
                CREATE TABLE consumed_tokens (
                    jti TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, expires_at BIGINT NOT NULL, consumed_at BIGINT NOT NULL)
                """,
                "CREATE INDEX consumed_tokens_expiry ON consumed_tokens (expires_at)",
                "CREATE TABLE request_counters (scope TEXT PRIMARY KEY, window_start BIGINT NOT NULL, count INTEGER NOT NULL)",
                // A message id is `<verification id>.<send>`, so a verification's messages are a range of the primary key.
                """
                CREATE TABLE outbox (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, verification_id TEXT NOT NULL, channel TEXT NOT NULL,
                    payload {BLOB}, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at BIGINT NOT NULL,
                    next_attempt_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, lease_until BIGINT, last_error TEXT,
                    finished_at BIGINT)
                """,
                "CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('pending', 'sending')",
                "CREATE INDEX outbox_created ON outbox (created_at)",
            ]),
        // Personal data at rest (`PersonalDataCipher`): from here on a verification's `destination` column holds the
        // destination's blind index, `reference` and `context` stay NULL, and all three are in `sealed_fields`; the
        // `destinations` table is keyed by the same blind index. Rows written before are sealed at the next start
        // (`PersonalDataBackfill`).
        Migration(
            version: 2, name: "personal-data-at-rest",
            statements: [
                "ALTER TABLE verifications ADD COLUMN sealed_fields {BLOB}"
            ]),
        // Vendor profiles: credentials are API keys bound to one profile; subject records (sealed, found by the blind
        // indexes in `record_keys`); and the sessions a vendor flow's ids name.
        Migration(
            version: 3, name: "vendor-profiles",
            statements: [
                "ALTER TABLE api_keys ADD COLUMN profile TEXT",
                """
                CREATE TABLE records (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, sealed {BLOB} NOT NULL, password_hash TEXT,
                    updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE record_keys (
                    tenant_id TEXT NOT NULL, kind TEXT NOT NULL, lookup_key TEXT NOT NULL, record_id TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, kind, lookup_key, record_id))
                """,
                "CREATE INDEX record_keys_record ON record_keys (record_id)",
                """
                CREATE TABLE profile_sessions (
                    tenant_id TEXT NOT NULL, id TEXT NOT NULL, profile TEXT NOT NULL, kind TEXT NOT NULL, record_id TEXT NOT NULL,
                    verification_id TEXT, sealed_data {BLOB}, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, id))
                """,
                "CREATE INDEX profile_sessions_expiry ON profile_sessions (expires_at)",
            ]),
        // Vendor profiles, part 2: a credential's sealed settings (Eko's access key and initiator id, M2P's tenant
        // header), and the signed requests already seen (Eko's replay guard), kept until their timestamps run out.
        Migration(
            version: 4, name: "signed-requests",
            statements: [
                "ALTER TABLE api_keys ADD COLUMN settings {BLOB}",
                """
                CREATE TABLE request_nonces (
                    tenant_id TEXT NOT NULL, digest TEXT NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, digest))
                """,
                "CREATE INDEX request_nonces_expiry ON request_nonces (expires_at)",
            ]),
        // Real delivery: which provider took each message and its id there (a delivery report finds the message by it).
        Migration(
            version: 5, name: "delivery-status",
            statements: [
                "ALTER TABLE outbox ADD COLUMN provider TEXT",
                "ALTER TABLE outbox ADD COLUMN provider_message_id TEXT",
                "CREATE INDEX outbox_provider_message ON outbox (provider, provider_message_id) WHERE provider_message_id IS NOT NULL",
            ]),
        // Tenants' message templates (`MessageTemplate`).
        Migration(
            version: 6, name: "message-templates",
            statements: [
                """
                CREATE TABLE message_templates (
                    tenant_id TEXT NOT NULL, purpose TEXT NOT NULL, locale TEXT NOT NULL, channel TEXT NOT NULL, body TEXT NOT NULL,
                    subject TEXT, html TEXT, dlt_template_id TEXT, webotp_domain TEXT, android_app_hash TEXT, updated_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, purpose, locale, channel))
                """
            ]),
        // Tenant webhooks (one endpoint per tenant, its secret sealed) and their events: a second outbox, written in
        // the transaction of the change it reports. A tenant's own delivery settings (DLT registration, sender,
        // provider credentials), sealed.
        Migration(
            version: 7, name: "tenant-webhooks",
            statements: [
                """
                CREATE TABLE webhook_endpoints (
                    tenant_id TEXT PRIMARY KEY, url TEXT NOT NULL, secret {BLOB} NOT NULL, events TEXT NOT NULL,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE webhook_events (
                    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, type TEXT NOT NULL, verification_id TEXT NOT NULL, message_id TEXT,
                    channel TEXT, purpose TEXT, error TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL, created_at BIGINT NOT NULL,
                    next_attempt_at BIGINT NOT NULL, lease_until BIGINT, last_status INTEGER, last_error TEXT, finished_at BIGINT)
                """,
                "CREATE INDEX webhook_events_due ON webhook_events (state, next_attempt_at)",
                "CREATE INDEX webhook_events_tenant ON webhook_events (tenant_id, created_at)",
                """
                CREATE TABLE tenant_delivery (tenant_id TEXT PRIMARY KEY, settings {BLOB} NOT NULL, updated_at BIGINT NOT NULL)
                """,
            ]),
        Migration(
            version: 8, name: "abuse-defences",
            statements: [
                """
                CREATE TABLE prefix_traffic (
                    tenant_id TEXT NOT NULL, prefix TEXT NOT NULL, bucket BIGINT NOT NULL, sends INTEGER NOT NULL, approved INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, prefix, bucket))
                """,
                "CREATE INDEX prefix_traffic_bucket ON prefix_traffic (bucket)",
                """
                CREATE TABLE abuse_holds (
                    tenant_id TEXT NOT NULL, prefix TEXT NOT NULL, reason TEXT NOT NULL, sends INTEGER NOT NULL, approved INTEGER NOT NULL,
                    created_at BIGINT NOT NULL, held_until BIGINT NOT NULL, PRIMARY KEY (tenant_id, prefix))
                """,
                "ALTER TABLE webhook_events ADD COLUMN detail TEXT",
                // An endpoint that took every event type takes the two new ones too.
                """
                UPDATE webhook_endpoints SET events = events || 'budget.warning,pumping.suspected,'
                WHERE events = ',delivery.failed,verification.approved,verification.expired,verification.failed,'
                """,
                "CREATE TABLE budget_usage (scope TEXT PRIMARY KEY, window_end BIGINT NOT NULL, used BIGINT NOT NULL)",
            ]),
        Migration(
            version: 9, name: "test-destinations",
            statements: ["ALTER TABLE tenants ADD COLUMN test_destinations TEXT NOT NULL DEFAULT '{}'"]),
        Migration(
            version: 10, name: "audit-log",
            statements: [
                """
                CREATE TABLE audit_entries (
                    id {SERIAL}, tenant_id TEXT NOT NULL, at BIGINT NOT NULL, action TEXT NOT NULL, actor TEXT NOT NULL,
                    subject TEXT NOT NULL, masked TEXT, request_id TEXT, detail TEXT, seq BIGINT, hash {BLOB})
                """,
                "CREATE INDEX audit_entries_unlinked ON audit_entries (tenant_id, id) WHERE seq IS NULL",
                "CREATE UNIQUE INDEX audit_entries_chain ON audit_entries (tenant_id, seq)",
                "CREATE INDEX audit_entries_tenant ON audit_entries (tenant_id, id)",
                """
                CREATE TABLE audit_checkpoints (
                    tenant_id TEXT NOT NULL, seq BIGINT NOT NULL, hash {BLOB} NOT NULL, at BIGINT NOT NULL, signature TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, seq))
                """,
            ]),
        // A start's entry now touches the table and one index: entries are paged by seq (the chain index, which only
        // linked entries enter), and the retention purge finds old checkpoints by time.
        Migration(
            version: 11, name: "audit-lean-indexes",
            statements: [
                "DROP INDEX audit_entries_tenant",
                "DROP INDEX audit_entries_chain",
                "CREATE UNIQUE INDEX audit_entries_chain ON audit_entries (tenant_id, seq) WHERE seq IS NOT NULL",
                "CREATE INDEX audit_checkpoints_at ON audit_checkpoints (at)",
            ]),
    ]
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
