import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OTPGateCore

/// Resolves `Authorization: Bearer <api key>` to a principal. Only the key's SHA-256 is looked up.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: any TenantStore
    let cache: PrincipalCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("send the API key as Authorization: Bearer <key>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthorized("the Authorization header must use the Bearer scheme")
        }
        let key = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard APIKey.isWellFormed(key),
            let principal = try await cache.principal(forKeyHash: APIKey.hash(key), load: { try await store.principal(forKeyHash: $0) })
        else { throw Problem.unauthorized("the API key is not valid") }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "tenant_id"] = .string(principal.tenant.id)
        context.facts.tenantID = principal.tenant.id
        return try await next(request, context)
    }
}
