import Foundation
public import OTPGateCore
public import OTPGateProfiles

/// `otpgate records import`: JSON Lines of subject records (docs/compat/records.md). Every line is validated before
/// anything is written, and each bad line is named by number with its reason; clear passwords are then hashed on the
/// password pool; the records are written in one transaction, so a file imports whole or not at all.
public struct RecordImport: Sendable {
    public struct LineError: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let errors: [LineError]
        public var description: String { "\(errors.count) invalid line(s); nothing was imported" }
    }

    /// One validated line, its password still in clear when the file gave it so.
    public struct Line: Sendable {
        public var record: SubjectRecord
        public var clearPassword: String?
    }

    public enum Phase: String, Sendable { case hashing, writing }

    public let book: RecordBook
    public let passwords: PasswordCheckPool
    public let random: any RandomSource
    public let clock: any Clock

    public init(book: RecordBook, passwords: PasswordCheckPool, random: any RandomSource, clock: any Clock) {
        self.book = book
        self.passwords = passwords
        self.random = random
        self.clock = clock
    }

    /// The records of `store`, sealed under its data key (created on first use, like at `serve`).
    public static func book(store: any Store, settings: ServerSettings, random: any RandomSource = SystemRandomSource()) async throws -> RecordBook {
        RecordBook(store: store, cipher: try await loadDataCipher(store: store, settings: settings, random: random))
    }

    /// Parses and validates every line; blank lines are skipped.
    public static func parse(_ data: [UInt8]) throws(Invalid) -> [Line] {
        var lines: [Line] = []
        var errors: [LineError] = []
        var seen: [String: Int] = [:]
        var number = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var bytes = Array(raw)
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            do {
                let line = try parseLine(bytes)
                let identity = line.record.kind.rawValue + ":" + line.record.identity
                if let first = seen[identity] {
                    throw Reason(reason: "repeats the \(line.record.kind.identityKey) of line \(first)")
                }
                seen[identity] = number
                lines.append(line)
            } catch let failure as Reason {
                errors.append(LineError(line: number, reason: failure.reason))
            } catch {
                errors.append(LineError(line: number, reason: "\(error)"))
            }
        }
        if !errors.isEmpty { throw Invalid(errors: errors) }
        return lines
    }

    struct Reason: Error { let reason: String }

    /// The document types CKYC records are searched by (v2 `document_type`, v3 `id_type`).
    static let documentTypes: Set<String> = [
        "PAN", "VOTER", "AADHAAR", "DRIVING_LICENSE", "PASSPORT", "NREGA_JOB_CARD", "NPR_LETTER", "CKYC_REFERENCE_ID",
    ]
    static let topLevel: Set<String> = ["kind", "keys", "mobile", "email", "password", "payload"]
    static let keyNames: [RecordKind: Set<String>] = [
        .itr: ["pan"], .ckyc: ["ckyc_number", "id_number", "document_type", "documents"], .customer: ["entity_id", "mobile", "kit_no"],
    ]

    static func parseLine(_ bytes: [UInt8]) throws(Reason) -> Line {
        guard case .object(let o) = try? JSONParser.parse(bytes) else { throw Reason(reason: "not a JSON object") }
        if let unknown = o.keys.sorted().first(where: { !topLevel.contains($0) }) { throw Reason(reason: "unknown member \"\(unknown)\"") }
        guard case .string(let kindText)? = o["kind"], let kind = RecordKind(rawValue: kindText) else {
            throw Reason(reason: "kind must be \"itr\", \"ckyc\" or \"customer\"")
        }
        guard case .object(let keyMembers)? = o["keys"] else { throw Reason(reason: "keys must be an object") }
        if let unknown = keyMembers.keys.sorted().first(where: { !(keyNames[kind] ?? []).contains($0) }) {
            throw Reason(reason: "keys.\(unknown) is not a key of \(kind == .itr ? "an" : "a") \(kind.rawValue) record")
        }
        func string(_ value: JSONValue?, _ name: String) throws(Reason) -> String? {
            switch value {
            case nil, .null?: return nil
            case .string(let s)?:
                guard !s.allSatisfy(\.isWhitespace), s.utf8.count <= 256 else { throw Reason(reason: "\(name) must be 1 to 256 characters") }
                return s
            default: throw Reason(reason: "\(name) must be a string")
            }
        }
        var keys: [String: String] = [:]
        var lookups: [String] = []
        let identityName = kind.identityKey
        guard let identityRaw = try string(keyMembers[identityName], "keys.\(identityName)") else {
            throw Reason(reason: "keys.\(identityName) is required")
        }
        let identity = RecordKeys.canonicalIdentifier(identityRaw)
        switch kind {
        case .itr:
            guard RecordKeys.isPAN(identity) else { throw Reason(reason: "keys.pan is not a valid PAN") }
        case .ckyc:
            guard identity.count == 14, identity.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw Reason(reason: "keys.ckyc_number must be 14 digits")
            }
        case .customer:
            break
        }
        keys[identityName] = identity
        lookups.append(RecordLookup.make(identityName, identity))
        var mobile: String?
        if let raw = try string(o["mobile"], "mobile") {
            do { mobile = try PhoneNumber.normalize(raw, defaultCountryCode: "91") } catch { throw Reason(reason: "mobile \(error.reason)") }
        }
        var email: String?
        if let raw = try string(o["email"], "email") {
            do { email = try Destination.parse(raw, channel: .email).value } catch { throw Reason(reason: "email \(error.reason)") }
        }
        if kind == .ckyc {
            var documents: [(String, String)] = []
            let number = try string(keyMembers["id_number"], "keys.id_number")
            let type = try string(keyMembers["document_type"], "keys.document_type")
            if (number == nil) != (type == nil) { throw Reason(reason: "keys.id_number and keys.document_type go together") }
            if let number, let type { documents.append((type, number)) }
            switch keyMembers["documents"] {
            case nil, .null?: break
            case .array(let items)?:
                for (i, item) in items.enumerated() {
                    guard case .object(let d) = item, let t = try string(d["document_type"], "keys.documents[\(i)].document_type"),
                        let n = try string(d["id_number"], "keys.documents[\(i)].id_number")
                    else { throw Reason(reason: "keys.documents[\(i)] needs document_type and id_number") }
                    documents.append((t, n))
                }
            default: throw Reason(reason: "keys.documents must be an array")
            }
            for (type, number) in documents {
                guard documentTypes.contains(type.uppercased()) else {
                    throw Reason(reason: "document_type \(type) is not one of \(documentTypes.sorted().joined(separator: ", "))")
                }
                lookups.append(RecordLookup.document(type: type, number: number))
            }
            if let number, let type {
                keys["id_number"] = number
                keys["document_type"] = type.uppercased()
            }
            if let mobile { lookups.append(RecordLookup.make("mobile", mobile)) }
        }
        if kind == .customer {
            if let raw = try string(keyMembers["mobile"], "keys.mobile") {
                let e164: String
                do { e164 = try PhoneNumber.normalize(raw, defaultCountryCode: "91") } catch { throw Reason(reason: "keys.mobile \(error.reason)") }
                keys["mobile"] = e164
                lookups.append(RecordLookup.make("mobile", e164))
            }
            if let raw = try string(keyMembers["kit_no"], "keys.kit_no") {
                keys["kit_no"] = RecordKeys.canonicalIdentifier(raw)
                lookups.append(RecordLookup.make("kit_no", RecordKeys.canonicalIdentifier(raw)))
            }
        }
        var passwordHash: String?
        var clear: String?
        if let password = try string(o["password"], "password") {
            if PasswordHash.isHashString(password) {
                do { try PasswordHash.validate(password) } catch { throw Reason(reason: "password hash: \(error.reason)") }
                passwordHash = password
            } else {
                guard password.count <= 128 else { throw Reason(reason: "password must be at most 128 characters") }
                clear = password
            }
        }
        let payload = o["payload"].flatMap { $0 == .null ? nil : $0 } ?? .object([:])
        guard case .object = payload else { throw Reason(reason: "payload must be an object") }
        return Line(
            record: SubjectRecord(
                kind: kind, keys: keys, lookups: lookups, mobile: mobile, email: email, passwordHash: passwordHash, payload: payload),
            clearPassword: clear)
    }

    /// Hashes clear passwords (on the pool, several at once) and writes every record in one transaction.
    public func run(
        _ lines: [Line], tenantID: String, progress: @escaping @Sendable (Phase, Int) -> Void = { _, _ in }
    ) async throws -> Int {
        var records = lines.map(\.record)
        let clear = lines.enumerated().compactMap { i, line in line.clearPassword.map { (i, $0) } }
        if !clear.isEmpty {
            let hashes = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var out: [(Int, String)] = []
                var next = 0
                let width = passwords.threads * 2
                while next < clear.count && next < width {
                    let (i, password) = clear[next]
                    group.addTask { (i, try await passwords.hash(password, random: random)) }
                    next += 1
                }
                while let done = try await group.next() {
                    out.append(done)
                    progress(.hashing, out.count)
                    if next < clear.count {
                        let (i, password) = clear[next]
                        group.addTask { (i, try await passwords.hash(password, random: random)) }
                        next += 1
                    }
                }
                return out
            }
            for (i, hash) in hashes { records[i].passwordHash = hash }
        }
        try await book.put(records, tenantID: tenantID, now: clock.now()) { progress(.writing, $0) }
        progress(.writing, records.count)
        return records.count
    }
}
