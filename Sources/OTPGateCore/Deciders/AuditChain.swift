import Crypto

/// The tamper evidence of a tenant's audit log: entries are chained in the order the linker takes them (`seq` 1, 2,
/// …), each hash over the previous hash and the entry's canonical form, and signed checkpoints pin the chain's head.
/// Editing, inserting or deleting an entry, or cutting the log short, breaks the chain or a checkpoint.
public enum AuditChain {
    public static let genesis = [UInt8](repeating: 0, count: 32)
    /// The JWS `typ` and `aud` of a checkpoint, so it never passes as any other token.
    public static let checkpointType = "otpgate-audit-checkpoint"

    /// The entry as hashed: every field but the store's row id, as canonical JSON.
    public static func canonical(_ e: AuditEntry, seq: Int64) -> [UInt8] {
        var o: [String: JSONValue] = [
            "seq": .int(Int(seq)), "tenant_id": .string(e.tenantID), "at": .int(Int(e.at.milliseconds)), "action": .string(e.action),
            "actor": .string(e.actor), "subject": .string(e.subject),
        ]
        o["masked"] = e.masked.map(JSONValue.string)
        o["request_id"] = e.requestID.map(JSONValue.string)
        o["detail"] = e.detail.map(JSONValue.string)
        return Array(JSONValue.object(o).canonicalText.utf8)
    }

    public static func hash(previous: [UInt8], entry: AuditEntry, seq: Int64) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: canonical(entry, seq: seq))
        return Array(hasher.finalize())
    }

    /// Links `unlinked` (oldest first) after the head `(seq, hash)`; returns them with their seq and hash.
    public static func link(_ unlinked: [AuditEntry], after head: (seq: Int64, hash: [UInt8])) -> [AuditEntry] {
        var previous = head
        return unlinked.map { entry in
            var linked = entry
            let seq = previous.seq + 1
            linked.seq = seq
            linked.hash = hash(previous: previous.hash, entry: entry, seq: seq)
            previous = (seq, linked.hash ?? [])
            return linked
        }
    }

    /// The checkpoint's signed payload.
    public static func checkpointClaims(tenantID: String, seq: Int64, hash: [UInt8], at: Timestamp) -> [String: JSONValue] {
        [
            "aud": .string(checkpointType), "tenant_id": .string(tenantID), "seq": .int(Int(seq)), "hash": .string(hex(hash)),
            "iat": .int(Int(at.seconds)),
        ]
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    /// What `verify` found wrong, the first problem first.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var seq: Int64
        public var reason: String
        public var description: String { "seq \(seq): \(reason)" }
    }

    /// The result of checking one tenant's chain.
    public struct Report: Sendable, Equatable {
        public var entries = 0
        /// The seq of the newest checkpoint that held.
        public var checkedUpTo: Int64 = 0
        /// Entries after the last checkpoint (chained but not yet signed for) and not yet chained.
        public var uncovered = 0
        public var problems: [Problem] = []
        public init() {}
    }

    /// Checks a tenant's chained entries (ordered by seq) against its checkpoints (ordered by seq), whose signatures
    /// `signatureHolds` checks. `start` is where the kept chain begins: `(0, genesis)`, or after a retention purge the
    /// oldest kept checkpoint's `(seq, hash)`.
    public static func verify(
        entries: [AuditEntry], checkpoints: [AuditCheckpoint], start: (seq: Int64, hash: [UInt8]),
        signatureHolds: (AuditCheckpoint) -> Bool
    ) -> Report {
        var report = Report()
        var byCheckpoint: [Int64: AuditCheckpoint] = [:]
        for checkpoint in checkpoints {
            if !signatureHolds(checkpoint) {
                report.problems.append(Problem(seq: checkpoint.seq, reason: "the checkpoint's signature does not hold"))
            }
            byCheckpoint[checkpoint.seq] = checkpoint
        }
        var previous = start
        for entry in entries {
            guard let seq = entry.seq else {
                report.uncovered += 1
                continue
            }
            report.entries += 1
            if seq != previous.seq + 1 {
                report.problems.append(
                    Problem(
                        seq: previous.seq + 1,
                        reason: seq > previous.seq + 1 ? "entries \(previous.seq + 1)…\(seq - 1) are missing" : "an entry repeats seq \(seq)"))
            }
            let expected = hash(previous: previous.hash, entry: entry, seq: seq)
            if expected != entry.hash { report.problems.append(Problem(seq: seq, reason: "the entry does not match its hash (edited or inserted)")) }
            previous = (seq, entry.hash ?? [])
            if let checkpoint = byCheckpoint[seq] {
                if checkpoint.hash == expected {
                    report.checkedUpTo = seq
                } else {
                    report.problems.append(Problem(seq: seq, reason: "the chain does not match the signed checkpoint"))
                }
            }
        }
        if let last = checkpoints.last, last.seq > previous.seq {
            report.problems.append(
                Problem(seq: last.seq, reason: "the log ends at \(previous.seq), before its checkpoint at \(last.seq) (truncated)"))
        }
        report.uncovered += Int(max(0, previous.seq - report.checkedUpTo))
        return report
    }
}
