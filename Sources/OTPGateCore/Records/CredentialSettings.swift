/// What a vendor credential carries besides its secret's hash, sealed at rest under the credential id: Eko's access key
/// (the server recomputes each request's HMAC with it, so it cannot be stored as a hash) and registered initiator id,
/// and M2P's `X-TENANT-ID` value.
public struct CredentialSettings: Sendable, Equatable {
    /// Eko: the access key the `secret-key` header is an HMAC under.
    public var accessKey: String?
    /// Eko: the API user's registered mobile, required as `initiator_id` on every call.
    public var initiatorID: String?
    /// M2P: the value every call must send as `X-TENANT-ID`.
    public var vendorTenantID: String?
    /// M2P: whether a dual OTP (`otpType` `D`) sends a code of its own to the email (`DIFFERENT_OTP_DUAL`) instead of
    /// one code to both (`SINGLE_OTP_DUAL`, the default).
    public var separateDualCodes: Bool

    public init(accessKey: String? = nil, initiatorID: String? = nil, vendorTenantID: String? = nil, separateDualCodes: Bool = false) {
        self.separateDualCodes = separateDualCodes
        self.accessKey = accessKey
        self.initiatorID = initiatorID
        self.vendorTenantID = vendorTenantID
    }

    static let purpose = "credential-settings"

    public func sealed(with cipher: PersonalDataCipher, credentialID: String) throws -> [UInt8] {
        var fields: [String: JSONValue] = [:]
        fields["access_key"] = accessKey.map(JSONValue.string)
        fields["initiator_id"] = initiatorID.map(JSONValue.string)
        fields["x_tenant_id"] = vendorTenantID.map(JSONValue.string)
        if separateDualCodes { fields["dual_otp"] = .string("different") }
        return try cipher.seal(JSONValue.object(fields).serialized, purpose: Self.purpose, rowID: credentialID)
    }

    /// The settings of a principal's credential (none for an empty value).
    public init(opening sealed: [UInt8], with cipher: PersonalDataCipher, credentialID: String) throws {
        guard !sealed.isEmpty else {
            self.init()
            return
        }
        let fields: JSONFields
        do {
            fields = try JSONFields(JSONParser.parse(cipher.open(sealed, purpose: Self.purpose, rowID: credentialID)))
        } catch {
            throw StoreError(.corrupt, "the settings of credential \(credentialID) do not open: wrong data key or corrupted row")
        }
        self.init(
            accessKey: try fields.optionalString("access_key"), initiatorID: try fields.optionalString("initiator_id"),
            vendorTenantID: try fields.optionalString("x_tenant_id"), separateDualCodes: try fields.optionalString("dual_otp") == "different")
    }
}
