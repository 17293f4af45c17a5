/// A tenant's own delivery settings (its DLT registration, sender header, provider credentials), sealed under the
/// master key with the tenant id: the store never sees them in clear. Read-mostly: the delivery worker caches them.
/// Each change writes its audit entry (nil with auditing off) in its own transaction.
public protocol TenantDeliveryStore: Sendable {
    func saveTenantDelivery(tenantID: String, sealedSettings: [UInt8], now: Timestamp, audit: AuditEntry?) async throws
    func tenantDelivery(tenantID: String) async throws -> [UInt8]?
    /// Whether there were settings to delete.
    func deleteTenantDelivery(tenantID: String, audit: AuditEntry?) async throws -> Bool
}
