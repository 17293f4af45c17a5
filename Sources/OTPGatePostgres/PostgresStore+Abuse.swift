import Foundation
public import OTPGateCore
import PostgresNIO

extension PostgresStore {
    /// Two statements, neither inside a transaction: the hold check and the count in one (the upsert's row lock orders
    /// concurrent starts in one bucket on every instance), and, only on a trip, the hold with its webhook event in one.
    /// No request waits on the prefix's counter row for longer than one statement.
    public func admitPrefixStart(_ start: PrefixStart) async throws -> PrefixAdmission {
        let (t, p, now) = (start.tenantID, start.prefix, start.now.milliseconds)
        let bucket = PumpingGuard.bucket(at: start.now)
        let row = try await rows(
            """
            WITH last AS (
                SELECT * FROM abuse_holds WHERE tenant_id = \(t) AND prefix = \(p)
            ), held AS (
                SELECT * FROM last WHERE held_until > \(now)
            ), bump AS (
                INSERT INTO prefix_traffic (tenant_id, prefix, bucket, sends, approved)
                SELECT \(t), \(p), \(bucket), 1, 0 WHERE NOT EXISTS (SELECT 1 FROM held)
                ON CONFLICT (tenant_id, prefix, bucket) DO UPDATE SET sends = prefix_traffic.sends + 1
                RETURNING sends, approved
            ), earlier AS (
                SELECT coalesce(sum(sends), 0)::bigint AS sends, coalesce(sum(approved), 0)::bigint AS approved FROM prefix_traffic
                WHERE tenant_id = \(t) AND prefix = \(p) AND bucket >= \(PumpingGuard.windowStart(at: start.now)) AND bucket <> \(bucket)
                    AND bucket > coalesce((SELECT held_until / 1000 FROM last), 0)
            )
            SELECT h.tenant_id, h.prefix, h.reason, h.sends AS held_sends, h.approved AS held_approved, h.created_at, h.held_until,
                (SELECT sends FROM bump)::bigint AS bucket_sends, (SELECT approved FROM bump)::bigint AS bucket_approved,
                earlier.sends AS earlier_sends, earlier.approved AS earlier_approved
            FROM earlier LEFT JOIN held h ON true
            """)[0]
        if try row["held_until"].decode(Int64?.self) != nil { return .held(try Self.abuseHold(row, counts: ("held_sends", "held_approved"))) }
        let sends = try row["earlier_sends"].decode(Int.self) + (try row["bucket_sends"].decode(Int?.self) ?? 1)
        let approved = try row["earlier_approved"].decode(Int.self) + (try row["bucket_approved"].decode(Int?.self) ?? 0)
        // The counts before this start: the decision admits exactly the configured number of unanswered sends.
        let before = PumpingGuard.Traffic(sends: sends - 1, approved: approved)
        guard PumpingGuard.trips(before: before, policy: start.policy) else { return .admitted }
        let hold = PumpingGuard.hold(tenantID: t, prefix: p, traffic: before, policy: start.policy, now: start.now)
        let type = WebhookEventType.pumpingSuspected
        let a = start.holdEntry(hold)
        let made = try await rows(
            """
            WITH h AS (
                INSERT INTO abuse_holds (tenant_id, prefix, reason, sends, approved, created_at, held_until)
                VALUES (\(t), \(p), \(hold.reason.rawValue), \(hold.sends), \(hold.approved), \(now), \(hold.until.milliseconds))
                ON CONFLICT (tenant_id, prefix) DO UPDATE SET reason = excluded.reason, sends = excluded.sends,
                    approved = excluded.approved, created_at = excluded.created_at, held_until = excluded.held_until
                WHERE abuse_holds.held_until <= \(now)
                RETURNING tenant_id
            ), e AS (
                INSERT INTO webhook_events (id, tenant_id, type, verification_id, channel, detail, state, attempts, created_at, next_attempt_at)
                SELECT \(WebhookEvent.id(subject: hold.subject, type: type)), w.tenant_id, \(type.rawValue), '', 'sms',
                    \(hold.json.canonicalText), 'pending', 0, \(now), \(now)
                FROM h JOIN webhook_endpoints w ON w.tenant_id = h.tenant_id AND strpos(w.events, \(",\(type.rawValue),")) > 0
                ON CONFLICT (id) DO NOTHING
            ), a AS (
                INSERT INTO audit_entries (tenant_id, at, action, actor, subject, masked, request_id, detail)
                SELECT h.tenant_id, \(a?.at.milliseconds), \(a?.action), \(a?.actor), \(a?.subject), \(a?.masked), \(a?.requestID), \(a?.detail)
                FROM h WHERE \(a != nil)
            )
            SELECT count(*) AS made FROM h
            """)[0]["made"].decode(Int.self)
        if made > 0 { return .tripped(hold) }
        // Another instance's start tripped it first: this one is refused under that hold.
        return .held(try await rows("SELECT * FROM abuse_holds WHERE tenant_id = \(t) AND prefix = \(p)").first.map(Self.abuseHold) ?? hold)
    }

    public func recordPrefixApproval(tenantID: String, prefix: String, now: Timestamp) async throws {
        _ = try await rows(
            """
            INSERT INTO prefix_traffic (tenant_id, prefix, bucket, sends, approved) VALUES (\(tenantID), \(prefix), \(PumpingGuard.bucket(at: now)), 0, 1)
            ON CONFLICT (tenant_id, prefix, bucket) DO UPDATE SET approved = prefix_traffic.approved + 1
            """)
    }

    public func abuseHolds(tenantID: String, now: Timestamp) async throws -> [AbuseHold] {
        try await rows(
            """
            SELECT * FROM abuse_holds WHERE tenant_id = \(tenantID) AND held_until > \(now.milliseconds) ORDER BY created_at DESC, prefix
            """
        ).map(Self.abuseHold)
    }

    public func releaseAbuseHold(tenantID: String, prefix: String, now: Timestamp, audit: AuditEntry?) async throws -> Bool {
        let (n, a) = (now.milliseconds, audit)
        // Judged afresh: the current bucket still holds the sends that led to the hold.
        return
            !(try await rows(
                """
                WITH released AS (
                    UPDATE abuse_holds SET held_until = \(n) WHERE tenant_id = \(tenantID) AND prefix = \(prefix) AND held_until > \(n)
                    RETURNING tenant_id, prefix
                ), cleared AS (
                    DELETE FROM prefix_traffic t USING released r WHERE t.tenant_id = r.tenant_id AND t.prefix = r.prefix
                ), entry AS (
                    INSERT INTO audit_entries (tenant_id, at, action, actor, subject, masked, request_id, detail)
                    SELECT tenant_id, \(a?.at.milliseconds), \(a?.action), \(a?.actor), \(a?.subject), \(a?.masked), \(a?.requestID), \(a?.detail)
                    FROM released WHERE \(a != nil)
                )
                SELECT 1 FROM released
                """
            ).isEmpty)
    }

    public func uncountPrefixStart(tenantID: String, prefix: String, now: Timestamp) async throws {
        _ = try await rows(
            """
            UPDATE prefix_traffic SET sends = sends - 1
            WHERE tenant_id = \(tenantID) AND prefix = \(prefix) AND bucket = \(PumpingGuard.bucket(at: now)) AND sends > 0
            """)
    }

    static func abuseHold(_ row: PostgresRandomAccessRow) throws -> AbuseHold {
        try abuseHold(row, counts: ("sends", "approved"))
    }

    static func abuseHold(_ row: PostgresRandomAccessRow, counts: (sends: String, approved: String)) throws -> AbuseHold {
        guard let reason = AbuseHold.Reason(rawValue: try row["reason"].decode(String.self)) else {
            throw StoreError(.corrupt, "abuse hold with an unknown reason")
        }
        return AbuseHold(
            tenantID: try row["tenant_id"].decode(String.self), prefix: try row["prefix"].decode(String.self), reason: reason,
            sends: try row[counts.sends].decode(Int.self), approved: try row[counts.approved].decode(Int.self),
            createdAt: Timestamp(milliseconds: try row["created_at"].decode(Int64.self)),
            until: Timestamp(milliseconds: try row["held_until"].decode(Int64.self)))
    }
}
