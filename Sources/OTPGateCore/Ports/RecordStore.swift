/// A subject record as the store keeps it: everything personal sealed in one value under the record's id, found by the
/// blind indexes of its lookup keys, never by a clear column.
public struct SealedRecord: Sendable, Equatable {
    /// Derived from the tenant, kind and identity (`RecordBook.recordID`), so an upsert keeps it.
    public var id: String
    public var tenantID: String
    public var kind: String
    /// Blind indexes of every lookup key, the identity's first.
    public var lookupKeys: [String]
    public var sealed: [UInt8]
    public var passwordHash: String?
    public var updatedAt: Timestamp

    public init(id: String, tenantID: String, kind: String, lookupKeys: [String], sealed: [UInt8], passwordHash: String?, updatedAt: Timestamp) {
        self.id = id
        self.tenantID = tenantID
        self.kind = kind
        self.lookupKeys = lookupKeys
        self.sealed = sealed
        self.passwordHash = passwordHash
        self.updatedAt = updatedAt
    }
}

/// The records a tenant holds for the vendor profiles (`RecordBook` seals and opens them).
public protocol RecordStore: Sendable {
    /// Inserts or replaces each record by id, with its lookup keys, all in one transaction: every record or none. A
    /// replacement without a password hash keeps the stored one.
    /// `progress` is told how many are written so far, now and then (they commit together at the end).
    func upsertRecords(_ records: [SealedRecord], progress: @escaping @Sendable (Int) -> Void) async throws
    /// The record of this tenant and kind that has `lookupKey` among its lookup keys.
    func record(tenantID: String, kind: String, lookupKey: String) async throws -> SealedRecord?
    /// The tenant's record with this id (the one a session refers to).
    func record(id: String, tenantID: String) async throws -> SealedRecord?
    /// Replaces a record's password hash (a completed password reset); `false` if there is no such record.
    func replacePasswordHash(recordID: String, tenantID: String, hash: String, at: Timestamp) async throws -> Bool
    /// How many records of each kind a tenant holds.
    func recordCounts(tenantID: String) async throws -> [String: Int]
}
