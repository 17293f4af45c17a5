import Foundation

/// The records store seen from the profiles: seals a subject's keys, contacts and payload under its id before the
/// store and opens them after, and turns lookups into blind indexes, so no personal value reaches a column.
public struct RecordBook: Sendable {
    public let store: any RecordStore
    let cipher: PersonalDataCipher
    static let purpose = "record"

    public init(store: any RecordStore, cipher: PersonalDataCipher) {
        self.store = store
        self.cipher = cipher
    }

    /// A record found, with the id sessions refer to it by.
    public struct Found: Sendable, Equatable {
        public let id: String
        public let record: SubjectRecord
    }

    /// The id of a tenant's subject: a function of the tenant, kind and identity, so re-importing a subject keeps it.
    public func recordID(tenantID: String, kind: RecordKind, identity: String) -> String {
        let index = cipher.blindIndex(tenantID: tenantID, kind: "record-id:" + kind.rawValue, value: identity)
        return "rec_" + index.dropFirst(PersonalDataCipher.indexPrefix.count)
    }

    func index(tenantID: String, kind: RecordKind, lookup: String) -> String {
        cipher.blindIndex(tenantID: tenantID, kind: "record:" + kind.rawValue, value: lookup)
    }

    /// `record` as the store keeps it.
    public func sealed(_ record: SubjectRecord, tenantID: String, now: Timestamp) throws -> SealedRecord {
        let id = recordID(tenantID: tenantID, kind: record.kind, identity: record.identity)
        var fields: [String: JSONValue] = [
            "k": .object(record.keys.mapValues(JSONValue.string)), "l": .array(record.lookups.map(JSONValue.string)), "p": record.payload,
        ]
        fields["m"] = record.mobile.map(JSONValue.string)
        fields["e"] = record.email.map(JSONValue.string)
        let sealed = try cipher.seal(JSONValue.object(fields).serialized, purpose: Self.purpose, rowID: id)
        var seen = Set<String>()
        let lookupKeys = record.lookups.map { index(tenantID: tenantID, kind: record.kind, lookup: $0) }.filter { seen.insert($0).inserted }
        return SealedRecord(
            id: id, tenantID: tenantID, kind: record.kind.rawValue, lookupKeys: lookupKeys, sealed: sealed, passwordHash: record.passwordHash,
            updatedAt: now)
    }

    /// Opens a stored record.
    public func open(_ stored: SealedRecord) throws -> SubjectRecord {
        guard let kind = RecordKind(rawValue: stored.kind) else { throw StoreError(.corrupt, "record \(stored.id) has unknown kind") }
        let fields: JSONFields
        do {
            fields = try JSONFields(JSONParser.parse(cipher.open(stored.sealed, purpose: Self.purpose, rowID: stored.id)))
        } catch {
            throw StoreError(.corrupt, "record \(stored.id) does not open: wrong data key or corrupted row")
        }
        var keys: [String: String] = [:]
        if case .object(let members)? = fields.optional("k") {
            for (name, value) in members { if case .string(let s) = value { keys[name] = s } }
        }
        var lookups: [String] = []
        if case .array(let items)? = fields.optional("l") {
            for item in items { if case .string(let s) = item { lookups.append(s) } }
        }
        return SubjectRecord(
            kind: kind, keys: keys, lookups: lookups, mobile: try fields.optionalString("m"), email: try fields.optionalString("e"),
            passwordHash: stored.passwordHash, payload: fields.optional("p") ?? .object([:]))
    }

    /// Inserts or replaces the records, all or none.
    public func put(
        _ records: [SubjectRecord], tenantID: String, now: Timestamp, progress: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        try await store.upsertRecords(records.map { try sealed($0, tenantID: tenantID, now: now) }, progress: progress)
    }

    /// The tenant's record of `kind` found by `lookup` (`RecordLookup`).
    public func find(tenantID: String, kind: RecordKind, lookup: String) async throws -> Found? {
        guard
            let stored = try await store.record(
                tenantID: tenantID, kind: kind.rawValue, lookupKey: index(tenantID: tenantID, kind: kind, lookup: lookup))
        else { return nil }
        return Found(id: stored.id, record: try open(stored))
    }

    /// The tenant's record with this id.
    public func find(id: String, tenantID: String) async throws -> Found? {
        guard let stored = try await store.record(id: id, tenantID: tenantID) else { return nil }
        return Found(id: stored.id, record: try open(stored))
    }

    /// Seals a session's flow facts under its id.
    public func sealSessionData(_ data: JSONValue, sessionID: String) throws -> [UInt8] {
        try cipher.seal(data.serialized, purpose: "profile-session", rowID: sessionID)
    }

    public func openSessionData(_ sealed: [UInt8], sessionID: String) throws -> JSONValue {
        guard !sealed.isEmpty else { return .object([:]) }
        do {
            return try JSONParser.parse(cipher.open(sealed, purpose: "profile-session", rowID: sessionID))
        } catch {
            throw StoreError(.corrupt, "session data does not open: wrong data key or corrupted row")
        }
    }

    /// A blind index for a profile's own lookups (KwikID's per-PAN session id).
    public func blindIndex(tenantID: String, kind: String, value: String) -> String {
        cipher.blindIndex(tenantID: tenantID, kind: kind, value: value)
    }
}
