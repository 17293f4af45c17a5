public import Hummingbird
import Logging
public import OTPGateCore

/// Per-request state: the authenticated principal (set by `APIKeyAuthenticator`) and the body limit.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?

    public init(source: Source) {
        coreContext = .init(source: source)
        principal = nil
    }

    /// Request bodies above 64 KiB are refused with 413 before any parsing.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The principal, or a 401 if the route was reached without authentication.
    func requirePrincipal() throws -> Principal {
        guard let principal else { throw Problem.unauthorized("missing API key") }
        return principal
    }
}
