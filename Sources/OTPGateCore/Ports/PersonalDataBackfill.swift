/// Rows written before personal data was encrypted at rest (schema version 2), found and rewritten in bounded
/// batches at start-up, so an upgraded database holds no clear destination, reference or context either. Every
/// method finds nothing once the backfill is done; every write is conditional, so instances starting at once do
/// each row once.
public protocol PersonalDataBackfill: Sendable {
    /// Up to `limit` verifications whose destination, reference and context are still in clear (no sealed fields).
    func verificationsInClear(limit: Int) async throws -> [Verification]
    /// Up to `limit` destination records still keyed by the clear destination (their `destinationKey` holds it).
    func destinationsInClear(limit: Int) async throws -> [DestinationState]
    /// Up to `limit` idempotency records whose stored response still holds clear personal fields.
    func idempotencyRecordsInClear(limit: Int) async throws -> [IdempotencyRecord]
    /// Writes the sealed forms in place of the clear ones, in one transaction.
    func replaceClearPersonalData(_ batch: SealedBackfill) async throws
}

/// What one backfill step writes: verifications with their blind index and sealed fields, destination records
/// re-keyed from the clear destination to its blind index (merged with a record already under it), and
/// idempotency records whose response is the sealed verification.
public struct SealedBackfill: Sendable {
    public struct Rekey: Sendable, Equatable {
        public var tenantID: String
        public var clear: String
        public var key: String
        public init(tenantID: String, clear: String, key: String) {
            self.tenantID = tenantID
            self.clear = clear
            self.key = key
        }
    }

    public var verifications: [Verification] = []
    public var destinations: [Rekey] = []
    public var idempotencyRecords: [IdempotencyRecord] = []

    public init() {}

    public var isEmpty: Bool { verifications.isEmpty && destinations.isEmpty && idempotencyRecords.isEmpty }
}
