/// A refused setting, naming the field (API) or option (command line) at fault, so each caller words it its own way:
/// a problem's `field`, a `--option` in a CLI error.
public struct FieldRefusal: Error, Sendable, Equatable {
    public var field: String
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
}
