/// A vendor flow's session: the id a client holds between calls (Surepass's `client_id`, a CKYC `request_id`, KwikID's
/// per-PAN session), the subject it is about and the verification that gates it. The facts that decide (attempts,
/// expiry, approval) stay in the verification; the session only ties the client's id to it, so every instance sees one
/// state.
public struct ProfileSession: Sendable, Equatable {
    /// What the client holds, in the vendor's format; unique per tenant.
    public var id: String
    public var tenantID: String
    /// `surepass`, `kwikid` …
    public var profile: String
    /// The flow step this id belongs to (`itr`, `itr_reset`, `ckyc_search`, `ckyc_download` …).
    public var kind: String
    /// The subject record the flow releases.
    public var recordID: String
    /// The verification gating the session, once an OTP was sent.
    public var verificationID: String?
    /// Flow facts that are personal or secret (a new password's hash, an access token's hash, a searched number),
    /// sealed under the session id; empty when there are none.
    public var sealedData: [UInt8]
    public var createdAt: Timestamp
    public var expiresAt: Timestamp

    public init(
        id: String, tenantID: String, profile: String, kind: String, recordID: String, verificationID: String? = nil,
        sealedData: [UInt8] = [], createdAt: Timestamp, expiresAt: Timestamp
    ) {
        self.id = id
        self.tenantID = tenantID
        self.profile = profile
        self.kind = kind
        self.recordID = recordID
        self.verificationID = verificationID
        self.sealedData = sealedData
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}
