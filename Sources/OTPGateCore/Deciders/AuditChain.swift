import Crypto

/// The tamper evidence of a tenant's audit log: entries are chained in the order the linker takes them (`seq` 1, 2,
/// …), each hash over the previous hash and the entry's canonical form, and signed checkpoints pin the chain's head.
/// Editing, inserting or deleting an entry, or cutting the log short, breaks the chain or a checkpoint.
public enum AuditChain {
    public static let genesis = [UInt8](repeating: 0, count: 32)
    /// The JWS `typ` and `aud` of a checkpoint, so it never passes as any other token.
    public static let checkpointType = "otpgate-audit-checkpoint"

    /// The entry as hashed: every field but the store's row id, as canonical JSON (`JSONValue.serialized` of the
    /// object, keys sorted), written directly in that key order since every entry is hashed once on the linker.
    public static func canonical(_ e: AuditEntry, seq: Int64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320)
        func member(_ key: StaticString, _ value: String?, first: Bool = false) {
            guard let value else { return }
            out.append(contentsOf: first ? #"{""#.utf8 : #",""#.utf8)
            out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
            out.append(contentsOf: #"":"#.utf8)
            JSONValue.writeString(value, into: &out)
        }
        func number(_ key: StaticString, _ value: Int64) {
            out.append(contentsOf: #",""#.utf8)
            out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
            out.append(contentsOf: #"":"#.utf8)
            out.append(contentsOf: String(value).utf8)
        }
        member("action", e.action, first: true)
        member("actor", e.actor)
        number("at", e.at.milliseconds)
        member("detail", e.detail)
        member("masked", e.masked)
        member("request_id", e.requestID)
        number("seq", seq)
        member("subject", e.subject)
        member("tenant_id", e.tenantID)
        out.append(UInt8(ascii: "}"))
        return out
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

    /// `link`, a slice at a time with a yield between slices: a linker round chains up to 1,000 entries, and hashing
    /// them in one go held one of the few executor threads for milliseconds, which the requests queued behind it
    /// paid in their slowest answers. The result is exactly `link`'s.
    public static func linkYielding(
        _ unlinked: [AuditEntry], after head: (seq: Int64, hash: [UInt8]), slice: Int = 100
    ) async -> [AuditEntry] {
        var linked: [AuditEntry] = []
        linked.reserveCapacity(unlinked.count)
        var previous = head
        let step = max(1, slice)
        for start in stride(from: 0, to: unlinked.count, by: step) {
            if start > 0 { await Task.yield() }
            let part = link(Array(unlinked[start..<min(start + step, unlinked.count)]), after: previous)
            if let last = part.last, let seq = last.seq, let hash = last.hash { previous = (seq, hash) }
            linked += part
        }
        return linked
    }

    /// The checkpoint's signed payload.
    public static func checkpointClaims(tenantID: String, seq: Int64, hash: [UInt8], at: Timestamp) -> [String: JSONValue] {
        [
            "aud": .string(checkpointType), "tenant_id": .string(tenantID), "seq": .int(Int(seq)), "hash": .string(hex(hash)),
            "iat": .int(Int(at.seconds)),
        ]
    }

    public static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    /// What `verify` found wrong, the first problem first.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var seq: Int64
        public var reason: String
        public var description: String { "seq \(seq): \(reason)" }
    }

    /// A `(seq, hash)` kept outside the database (from a logged checkpoint line, or `otpgate audit verify`'s output),
    /// written `seq:hex`: the chain must still hold it, which a writer of the database alone cannot fake.
    public struct Anchor: Sendable, Equatable {
        public var seq: Int64
        public var hash: [UInt8]

        public init(seq: Int64, hash: [UInt8]) {
            self.seq = seq
            self.hash = hash
        }

        public init?(_ text: String) {
            let parts = text.split(separator: ":")
            guard parts.count == 2, let seq = Int64(parts[0]), seq > 0, parts[1].utf8.count == 64,
                let bytes = Hex.decode(String(parts[1]))
            else { return nil }
            self.init(seq: seq, hash: bytes)
        }

        public var text: String { "\(seq):\(AuditChain.hex(hash))" }
    }

    /// The result of checking one tenant's chain.
    public struct Report: Sendable, Equatable {
        public var entries = 0
        /// The seq of the newest checkpoint that held.
        public var checkedUpTo: Int64 = 0
        /// The chain's hash at `checkedUpTo`: with it, the anchor to keep for the next check.
        public var checkedHash: [UInt8] = []
        /// Anchors older than the kept log (purged by retention): they can no longer be checked.
        public var anchorsPurged = 0
        /// Entries after the last checkpoint (chained but not yet signed for) and not yet chained.
        public var uncovered = 0
        public var problems: [Problem] = []
        public init() {}
    }

    /// Checks a tenant's chained entries (ordered by seq) against its checkpoints (ordered by seq), whose signatures
    /// `signatureHolds` checks, and against `anchors` kept elsewhere. The chain starts at seq 1 from `genesis`, or,
    /// after a retention purge, at the oldest kept entry, which a signed checkpoint must pin, signed before
    /// `purgeCutoff` (now less the retention) when that is given: a purge never cuts the log at a newer one.
    public static func verify(
        entries: [AuditEntry], checkpoints: [AuditCheckpoint], anchors: [Anchor] = [], purgeCutoff: Timestamp? = nil,
        signatureHolds: (AuditCheckpoint) -> Bool
    ) -> Report {
        var report = Report()
        var byCheckpoint: [Int64: AuditCheckpoint] = [:]
        var signed: Set<Int64> = []
        for checkpoint in checkpoints {
            if signatureHolds(checkpoint) {
                signed.insert(checkpoint.seq)
            } else {
                report.problems.append(Problem(seq: checkpoint.seq, reason: "the checkpoint's signature does not hold"))
            }
            byCheckpoint[checkpoint.seq] = checkpoint
        }
        let anchored = Dictionary(anchors.map { ($0.seq, $0.hash) }, uniquingKeysWith: { first, _ in first })
        var previous: (seq: Int64, hash: [UInt8]) = (0, genesis)
        // A retention purge cuts the log at a checkpoint, deleting the entries it covers: the kept chain then starts
        // from that checkpoint's signed hash, and every kept entry is recomputed from it.
        let firstSeq = entries.first?.seq
        if let base = firstSeq.map({ $0 - 1 }) ?? checkpoints.first?.seq, base > 0 {
            if let checkpoint = byCheckpoint[base], signed.contains(base) {
                previous = (base, checkpoint.hash)
                report.checkedUpTo = base
                report.checkedHash = checkpoint.hash
                if let purgeCutoff, checkpoint.at >= purgeCutoff {
                    report.problems.append(
                        Problem(
                            seq: base,
                            reason:
                                "the entries up to seq \(base) are gone, but their checkpoint (\(checkpoint.at.iso8601)) is within the retention (deleted early)"
                        ))
                }
                if let pinned = anchored[base], pinned != checkpoint.hash {
                    report.problems.append(Problem(seq: base, reason: "the chain does not match the anchor kept outside the database (rewritten)"))
                }
            } else {
                report.problems.append(
                    Problem(seq: base + 1, reason: "the log starts at seq \(base + 1), after no signed checkpoint (entries before it deleted)"))
                previous = (base, [])
            }
        }
        report.anchorsPurged = anchors.filter { $0.seq < previous.seq }.count
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
            if let pinned = anchored[seq], pinned != expected {
                report.problems.append(Problem(seq: seq, reason: "the chain does not match the anchor kept outside the database (rewritten)"))
            }
            if let checkpoint = byCheckpoint[seq] {
                if checkpoint.hash == expected {
                    report.checkedUpTo = seq
                    report.checkedHash = expected
                } else {
                    report.problems.append(Problem(seq: seq, reason: "the chain does not match the signed checkpoint"))
                }
            }
        }
        if let last = checkpoints.last, last.seq > previous.seq {
            report.problems.append(
                Problem(seq: last.seq, reason: "the log ends at \(previous.seq), before its checkpoint at \(last.seq) (truncated)"))
        }
        if let last = anchors.map(\.seq).max(), last > previous.seq {
            report.problems.append(
                Problem(seq: last, reason: "the log ends at \(previous.seq), before the anchor at \(last) kept outside the database (truncated)"))
        }
        report.uncovered += Int(max(0, previous.seq - report.checkedUpTo))
        return report
    }
}
