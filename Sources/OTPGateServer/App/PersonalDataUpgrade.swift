public import OTPGateCore

/// Seals what a database written before encryption at rest still holds in clear (`PersonalDataBackfill`): run at
/// start-up, in batches, until nothing is left. On a database created by this version it finds nothing at once.
public enum PersonalDataUpgrade {
    /// - Returns: how many rows were rewritten.
    @discardableResult
    public static func run(store: any PersonalDataBackfill, cipher: PersonalDataCipher, batchSize: Int = 500) async throws -> Int {
        var rewritten = 0
        while true {
            var batch = SealedBackfill()
            batch.verifications = try await store.verificationsInClear(limit: batchSize).map { try cipher.sealed($0) }
            batch.destinations = try await store.destinationsInClear(limit: batchSize).map { record in
                let clear = record.destinationKey
                let channel: Channel = clear.contains("@") ? .email : .sms
                return SealedBackfill.Rekey(
                    tenantID: record.tenantID, clear: clear,
                    key: cipher.destinationKey(Destination(unchecked: clear, channel: channel), tenantID: record.tenantID))
            }
            batch.idempotencyRecords = try await store.idempotencyRecordsInClear(limit: batchSize).map { record in
                var sealed = record
                sealed.response = try cipher.sealed(record.response)
                return sealed
            }
            if batch.isEmpty { return rewritten }
            try await store.replaceClearPersonalData(batch)
            rewritten += batch.verifications.count + batch.destinations.count + batch.idempotencyRecords.count
        }
    }
}
