import Foundation

extension Verification {
    /// The verification without its secrets, as JSON: what an idempotent replay answers with. The code hash is
    /// always written empty, whatever `self` holds, and the personal fields only sealed (`sealedFields`, base64,
    /// with `destinationKey`): a stored snapshot shows no destination, reference or context.
    ///
    /// The members are those of the synthesized `Codable` form this replaces (property names, times as integer
    /// milliseconds, the code hash as base64, absent optionals left out), so snapshots already stored read back;
    /// one written before encryption at rest has `destination`, `reference` and `context` in clear instead.
    public var snapshotJSON: String {
        var o: [String: JSONValue] = [
            "id": .string(id),
            "tenantID": .string(tenantID),
            "channel": .string(channel.rawValue),
            "destination": .string(""),
            "destinationKey": .string(destinationKey),
            "sealedFields": .string(sealedFields.base64EncodedString()),
            "codeLength": .int(codeLength),
            "codeHash": .string(""),
            "state": .string(state.rawValue),
            "attempts": .int(attempts),
            "maxAttempts": .int(maxAttempts),
            "sends": .int(sends),
            "maxSends": .int(maxSends),
            "ttlSeconds": .int(ttlSeconds),
            "createdAt": .int(createdAt.milliseconds),
            "expiresAt": .int(expiresAt.milliseconds),
            "lastSentAt": .int(lastSentAt.milliseconds),
            "resendAvailableAt": .int(resendAvailableAt.milliseconds),
            "updatedAt": .int(updatedAt.milliseconds),
        ]
        o["purpose"] = purpose.map(JSONValue.string)
        o["locale"] = locale.map(JSONValue.string)
        return JSONValue.object(o).canonicalText
    }

    /// Reads a snapshot written by `snapshotJSON` or by the earlier `JSONEncoder` form.
    public init(snapshotJSON: String) throws {
        let f = try JSONFields(parsing: snapshotJSON)
        guard let codeHash = Data(base64Encoded: try f.string("codeHash")) else {
            throw JSONShapeError(field: "codeHash", "expected base64")
        }
        self.init(
            id: try f.string("id"), tenantID: try f.string("tenantID"), channel: try f.raw("channel", as: Channel.self),
            destination: try f.string("destination"), purpose: try f.optionalString("purpose"), locale: try f.optionalString("locale"),
            reference: try f.optionalString("reference"), context: try f.optionalString("context"), codeLength: try f.int("codeLength"),
            codeHash: codeHash, state: try f.raw("state", as: VerificationState.self), attempts: try f.int("attempts"),
            maxAttempts: try f.int("maxAttempts"), sends: try f.int("sends"), maxSends: try f.int("maxSends"),
            ttlSeconds: try f.int("ttlSeconds"), createdAt: Timestamp(milliseconds: try f.int64("createdAt")),
            expiresAt: Timestamp(milliseconds: try f.int64("expiresAt")), lastSentAt: Timestamp(milliseconds: try f.int64("lastSentAt")),
            resendAvailableAt: Timestamp(milliseconds: try f.int64("resendAvailableAt")),
            updatedAt: Timestamp(milliseconds: try f.int64("updatedAt")),
            destinationKey: try f.optionalString("destinationKey") ?? "",
            sealedFields: try Self.base64(f.optionalString("sealedFields") ?? "", field: "sealedFields"))
    }

    private static func base64(_ text: String, field: String) throws -> Data {
        guard let data = Data(base64Encoded: text) else { throw JSONShapeError(field: field, "expected base64") }
        return data
    }
}
