import Foundation
import GRDB
public import OTPGateCore

extension SQLiteStore {
    /// One write on the single writer: the hold check, the count and the decision cannot interleave with another start's.
    public func admitPrefixStart(_ start: PrefixStart) async throws -> PrefixAdmission {
        try await write { db in
            let last = try Self.lastHold(db, tenantID: start.tenantID, prefix: start.prefix)
            if let last, last.until > start.now { return .held(last) }
            let bucket = PumpingGuard.bucket(at: start.now)
            try db.cachedStatement(
                sql: """
                    INSERT INTO prefix_traffic (tenant_id, prefix, bucket, sends, approved) VALUES (?, ?, ?, 1, 0)
                    ON CONFLICT (tenant_id, prefix, bucket) DO UPDATE SET sends = prefix_traffic.sends + 1
                    """
            ).execute(arguments: [start.tenantID, start.prefix, bucket])
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT coalesce(sum(sends), 0) AS sends, coalesce(sum(approved), 0) AS approved FROM prefix_traffic
                        WHERE tenant_id = ? AND prefix = ? AND bucket >= ? AND bucket > ?
                        """),
                arguments: [start.tenantID, start.prefix, PumpingGuard.windowStart(at: start.now), PumpingGuard.countsSince(last)])
            // The counts before this start: the decision admits exactly the configured number of unanswered sends.
            let before = PumpingGuard.Traffic(sends: (row?["sends"] ?? 1) - 1, approved: row?["approved"] ?? 0)
            guard PumpingGuard.trips(before: before, policy: start.policy) else { return .admitted }
            let hold = PumpingGuard.hold(tenantID: start.tenantID, prefix: start.prefix, traffic: before, policy: start.policy, now: start.now)
            try db.cachedStatement(
                sql: """
                    INSERT INTO abuse_holds (tenant_id, prefix, reason, sends, approved, created_at, held_until) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, prefix) DO UPDATE SET reason = excluded.reason, sends = excluded.sends,
                        approved = excluded.approved, created_at = excluded.created_at, held_until = excluded.held_until
                    """
            ).execute(arguments: [
                hold.tenantID, hold.prefix, hold.reason.rawValue, hold.sends, hold.approved, hold.createdAt.milliseconds, hold.until.milliseconds,
            ])
            try Self.recordEvent(
                db, .pumpingSuspected, subject: hold.subject, tenantID: hold.tenantID, verificationID: "", channel: .sms, purpose: nil,
                detail: hold.json.canonicalText, now: start.now)
            try Self.insertAudit(db, start.holdEntry(hold))
            return .tripped(hold)
        }
    }

    public func recordPrefixApproval(tenantID: String, prefix: String, now: Timestamp) async throws {
        try await write { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO prefix_traffic (tenant_id, prefix, bucket, sends, approved) VALUES (?, ?, ?, 0, 1)
                    ON CONFLICT (tenant_id, prefix, bucket) DO UPDATE SET approved = prefix_traffic.approved + 1
                    """
            ).execute(arguments: [tenantID, prefix, PumpingGuard.bucket(at: now)])
        }
    }

    public func abuseHolds(tenantID: String, now: Timestamp) async throws -> [AbuseHold] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM abuse_holds WHERE tenant_id = ? AND held_until > ? ORDER BY created_at DESC, prefix",
                arguments: [tenantID, now.milliseconds]
            ).map(Self.abuseHold)
        }
    }

    public func releaseAbuseHold(tenantID: String, prefix: String, now: Timestamp, audit: AuditEntry?) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE abuse_holds SET held_until = ? WHERE tenant_id = ? AND prefix = ? AND held_until > ?",
                arguments: [now.milliseconds, tenantID, prefix, now.milliseconds])
            guard db.changesCount > 0 else { return false }
            // Judged afresh: the current bucket still holds the sends that led to the hold.
            try db.execute(sql: "DELETE FROM prefix_traffic WHERE tenant_id = ? AND prefix = ?", arguments: [tenantID, prefix])
            try Self.insertAudit(db, audit)
            return true
        }
    }

    public func uncountPrefixStart(tenantID: String, prefix: String, now: Timestamp) async throws {
        try await write { db in
            try db.cachedStatement(
                sql: "UPDATE prefix_traffic SET sends = sends - 1 WHERE tenant_id = ? AND prefix = ? AND bucket = ? AND sends > 0"
            ).execute(arguments: [tenantID, prefix, PumpingGuard.bucket(at: now)])
        }
    }

    /// The prefix's latest hold, in force or ended.
    static func lastHold(_ db: Database, tenantID: String, prefix: String) throws -> AbuseHold? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM abuse_holds WHERE tenant_id = ? AND prefix = ?"), arguments: [tenantID, prefix]
        ).map(Self.abuseHold)
    }

    static func abuseHold(_ row: Row) throws -> AbuseHold {
        guard let reason = AbuseHold.Reason(rawValue: row["reason"]) else { throw StoreError(.corrupt, "abuse hold with an unknown reason") }
        return AbuseHold(
            tenantID: row["tenant_id"], prefix: row["prefix"], reason: reason, sends: row["sends"], approved: row["approved"],
            createdAt: Timestamp(milliseconds: row["created_at"]), until: Timestamp(milliseconds: row["held_until"]))
    }
}
