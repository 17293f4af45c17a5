/// India's DLT registration an SMS is sent under (TRAI's rules: the sender header, the principal entity and the
/// content template must all be registered, and the text must match the template).
public struct DLTRegistration: Sendable, Equatable {
    /// The 6-character sender header (`OTPGATE_SMS_SENDER`).
    public var sender: String?
    /// The principal entity (PE) id (`OTPGATE_SMS_DLT_ENTITY_ID`).
    public var entityID: String?
    /// The content template id of the built-in message (`OTPGATE_SMS_DLT_TEMPLATE_ID`); a tenant template carries its own
    /// (a text sent under another text's id would be dropped by the operator).
    public var templateID: String?

    public init(sender: String? = nil, entityID: String? = nil, templateID: String? = nil) {
        self.sender = sender
        self.entityID = entityID
        self.templateID = templateID
    }
}
