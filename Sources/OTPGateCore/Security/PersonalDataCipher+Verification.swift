import Foundation

extension PersonalDataCipher {
    static let verificationFields = "verification"
    static let outboxPayload = "outbox"

    /// The blind index a destination of this tenant is stored and looked up by.
    public func destinationKey(_ destination: Destination, tenantID: String) -> String {
        blindIndex(tenantID: tenantID, kind: destination.channel.rawValue, value: destination.value)
    }

    /// `v` as the store keeps it: its destination's blind index set, and its destination, reference and context
    /// sealed under its id. The clear fields stay in the value, for this request only.
    public func sealed(_ v: Verification) throws -> Verification {
        var fields: [String: JSONValue] = ["d": .string(v.destination)]
        fields["r"] = v.reference.map(JSONValue.string)
        fields["c"] = v.context.map(JSONValue.string)
        if let companion = v.companion {
            fields["e"] = .string(companion.value)
            fields["ec"] = .string(companion.channel.rawValue)
            if v.companionHasOwnCode { fields["e2"] = .bool(true) }
        }
        if let fallback = v.fallback {
            fields["f"] = .string(fallback.value)
            fields["fc"] = .string(fallback.channel.rawValue)
            fields["fs"] = .int(v.fallbackAfterSeconds)
        }
        var copy = v
        copy.destinationKey = destinationKey(Destination(unchecked: v.destination, channel: v.channel), tenantID: v.tenantID)
        copy.sealedFields = Data(try seal(JSONValue.object(fields).serialized, purpose: Self.verificationFields, rowID: v.id))
        return copy
    }

    /// `v` as read from the store, with its destination, reference and context opened. A verification stored before
    /// encryption at rest (no sealed fields) has them in clear already.
    public func reveal(_ v: Verification) throws -> Verification {
        guard !v.sealedFields.isEmpty else { return v }
        let fields: JSONFields
        do {
            fields = try JSONFields(JSONParser.parse(open(Array(v.sealedFields), purpose: Self.verificationFields, rowID: v.id)))
        } catch {
            throw StoreError(.corrupt, "the personal fields of verification \(v.id) do not open: wrong data key or corrupted row")
        }
        var copy = v
        copy.destination = try fields.string("d")
        copy.reference = try fields.optionalString("r")
        copy.context = try fields.optionalString("c")
        if let companion = try fields.optionalString("e") {
            guard let channel = Channel(rawValue: try fields.string("ec")) else {
                throw StoreError(.corrupt, "verification \(v.id): unknown companion channel")
            }
            copy.companion = Destination(unchecked: companion, channel: channel)
            copy.companionHasOwnCode = try fields.optionalBool("e2") ?? false
        }
        if let fallback = try fields.optionalString("f") {
            guard let channel = Channel(rawValue: try fields.string("fc")) else {
                throw StoreError(.corrupt, "verification \(v.id): unknown fallback channel")
            }
            copy.fallback = Destination(unchecked: fallback, channel: channel)
            copy.fallbackAfterSeconds = try fields.optionalInt("fs") ?? 0
        }
        return copy
    }

    /// An outbox payload sealed for the verification it belongs to (its message id can still change on a resend).
    public func sealPayload(_ payload: MessagePayload, verificationID: String) throws -> [UInt8] {
        try seal(payload.encoded, purpose: Self.outboxPayload, rowID: verificationID)
    }

    public func openPayload(_ sealed: [UInt8], verificationID: String) throws -> MessagePayload {
        try MessagePayload(encoded: open(sealed, purpose: Self.outboxPayload, rowID: verificationID))
    }
}
