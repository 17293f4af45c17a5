/// How a code reaches its recipient. Later issues add gateways behind these; the names are part of the API.
public enum Channel: String, Sendable, CaseIterable {
    case sms
    case email
}
