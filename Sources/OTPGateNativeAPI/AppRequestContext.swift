public import Hummingbird
import Logging
public import NIOCore
public import OTPGateCore
import Synchronization

/// Per-request state: the authenticated principal (set by `APIKeyAuthenticator`), the peer and the body limit.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    /// A signed request's replay-guard entry, verified by a profile's authentication and left for its handler to record
    /// with the handler's first write (a `SessionBinding` in its start's transaction), or on its own.
    public var requestNonce: RequestNonce?
    /// The connected peer (a proxy, when there is one: see `TrustedProxies`).
    public let remoteAddress: SocketAddress?
    /// What inner layers learn about the request and the outermost middleware logs (the context itself is a value:
    /// a copy changed inside does not reach the outside).
    package let facts = RequestFacts()

    public init(source: Source) {
        coreContext = .init(source: source)
        principal = nil
        requestNonce = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// Request bodies above 64 KiB are refused with 413 before any parsing.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The request body, up to `maxUploadSize`; a larger one is a 413 problem. Shared by every body format.
    package func collectBody(_ request: Request) async throws -> [UInt8] {
        do {
            return Array(try await request.body.collect(upTo: maxUploadSize).readableBytesView)
        } catch {
            throw Problem(ProblemCatalog.payloadTooLarge, detail: "request bodies are limited to \(maxUploadSize / 1024) KiB")
        }
    }

    /// The principal, or a 401 if the route was reached without authentication.
    package func requirePrincipal() throws -> Principal {
        guard let principal else { throw Problem.unauthorized("missing API key") }
        return principal
    }
}

/// Facts about one request, shared by every copy of its context.
package final class RequestFacts: Sendable {
    private let tenant = Mutex<String?>(nil)

    /// The authenticated tenant, once known.
    package var tenantID: String? {
        get { tenant.withLock { $0 } }
        set { tenant.withLock { $0 = newValue } }
    }
}
