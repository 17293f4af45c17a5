import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OTPGateCore

/// Resolves `Authorization: Bearer <api key>` to a principal. Only the key's SHA-256 is looked up. A presented key
/// that is malformed or unknown counts against the client address (`FailedAuthenticationLimiter`); past the limit,
/// the address gets 429 without any lookup until the window ends.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: any TenantStore
    let cache: PrincipalCache
    let failures: FailedAuthenticationLimiter
    let proxies: TrustedProxies
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("send the API key as Authorization: Bearer <key>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthorized("the Authorization header must use the Bearer scheme")
        }
        let key = String(parts[1].trimmingSpaces)
        // The client address is resolved only when it matters: while some address is refused, or on a failure.
        let client = { proxies.client(peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: Self.forwardedFor]) }
        let hash = APIKey.hash(key)
        if failures.isRefusingAnyone, cache.cachedPrincipal(forKeyHash: hash) == nil, let wait = failures.refusal(for: client()) {
            throw Self.tooManyFailures(retryAfter: wait)
        }
        guard APIKey.isWellFormed(key),
            let principal = try await cache.principal(forKeyHash: hash, load: { try await store.principal(forKeyHash: $0) }),
            principal.profile == nil
        else {
            if let wait = try await failures.recordFailure(of: client()) { throw Self.tooManyFailures(retryAfter: wait) }
            throw Problem.unauthorized("the API key is not valid")
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "tenant_id"] = .string(principal.tenant.id)
        context.facts.tenantID = principal.tenant.id
        return try await next(request, context)
    }

    static func tooManyFailures(retryAfter: Duration) -> Problem {
        var problem = Problem(ProblemCatalog.rateLimited, detail: "too many requests with an invalid API key from this address")
        problem.retryAfter = retryAfter
        problem.extensions["scope"] = .string("client_address")
        return problem
    }
}
