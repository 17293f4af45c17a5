import Foundation
public import HTTPTypes
public import Hummingbird
import Logging
public import OTPGateCore

/// What a vendor-compatible API (`OTPGateProfiles`) plugs into the router: its routes, and the rendering of every
/// failure under its path prefixes (a 404 for an unknown path included) in the vendor's own envelope, never as
/// problem+json.
public protocol CompatProfile: Sendable {
    /// The profile name a credential is bound to (`surepass`, `kwikid` …).
    var name: String { get }
    /// Paths this profile answers for, each ending in `/`.
    var pathPrefixes: [String] { get }
    /// The vendor-shaped response for an error thrown while serving one of its paths (`Problem` for body limits,
    /// `HTTPError` for an unknown path or method, anything the profile threw).
    func errorResponse(for error: any Error, context: AppRequestContext) -> Response
    func addRoutes(to router: Router<AppRequestContext>, authentication: ProfileAuthentication)
    /// Routes of the native API (under `/v1`, authenticated with a native API key, answering problem+json) that serve
    /// this profile's tenants' own backends, e.g. checking an M2P `messageHash`. Each is in the OpenAPI document.
    var nativeRoutes: [NativeRoute] { get }
}

extension CompatProfile {
    public var nativeRoutes: [NativeRoute] { [] }
}

/// A native API route a profile contributes: `path` as OpenAPI writes it (`/v1/...`).
public struct NativeRoute: Sendable {
    public let method: HTTPRequest.Method
    public let path: String
    public let handler: @Sendable (Request, AppRequestContext) async throws -> Response

    public init(method: HTTPRequest.Method, path: String, handler: @escaping @Sendable (Request, AppRequestContext) async throws -> Response) {
        self.method = method
        self.path = path
        self.handler = handler
    }
}

/// Credential authentication for the profiles, sharing the native API's key cache and failed-authentication limit:
/// the Bearer value's SHA-256 is looked up like an API key, and only a credential of the asking profile is accepted.
public struct ProfileAuthentication: Sendable {
    let store: any TenantStore
    let cache: PrincipalCache
    let failures: FailedAuthenticationLimiter
    let proxies: TrustedProxies

    public enum Outcome: Sendable, Equatable {
        case authenticated
        /// No credential, or not one of this profile (the reason is safe to show).
        case invalid(String)
        /// Too many invalid credentials from this client address.
        case throttled(retryAfter: Duration)
    }

    /// Resolves `Authorization: Bearer <token>` to a principal of `profile` and sets it on `context`.
    public func authenticate(_ request: Request, context: inout AppRequestContext, profile: String) async throws -> Outcome {
        guard let header = request.headers[.authorization] else { return .invalid("missing Authorization header") }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return .invalid("the Authorization header must use the Bearer scheme") }
        return try await authenticate(secret: parts[1].trimmingSpaces, request: request, context: &context, profile: profile)
    }

    /// Resolves a credential's secret (a Bearer token, Eko's `developer_key`) to a principal of `profile`, by its
    /// SHA-256, and sets it on `context`.
    public func authenticate(secret: Substring, request: Request, context: inout AppRequestContext, profile: String) async throws -> Outcome {
        let hash = APIKey.hash(String(secret))
        if let wait = refusalBeforeLookup(request, context: context, cacheKey: hash) { return .throttled(retryAfter: wait) }
        guard !secret.isEmpty, secret.utf8.count <= 4096,
            let principal = try await cache.principal(forKeyHash: hash, load: { try await store.principal(forKeyHash: $0) }),
            principal.profile == profile
        else { return try await failed(request, context: context) }
        set(principal, on: &context)
        return .authenticated
    }

    /// Resolves the credential a token OTPGate signed names (M2P's access token) to a principal of `profile`: the
    /// credential must still be unrevoked.
    public func authenticate(credentialID: String, request: Request, context: inout AppRequestContext, profile: String) async throws -> Outcome {
        // Cached beside the keys, under a hash no key can have (key hashes are of the secret, never of an id).
        let cacheKey = APIKey.hash("credential-id:" + credentialID)
        guard credentialID.utf8.count <= 128,
            let principal = try await cache.principal(forKeyHash: cacheKey, load: { _ in try await store.principal(forKeyID: credentialID) }),
            principal.profile == profile
        else { return try await failed(request, context: context) }
        set(principal, on: &context)
        return .authenticated
    }

    /// Counts a failed authentication (a bad signature after the key was found, a forged token) against the client address.
    public func failed(_ request: Request, context: AppRequestContext) async throws -> Outcome {
        if let wait = try await failures.recordFailure(of: client(request, context: context)) { return .throttled(retryAfter: wait) }
        return .invalid("invalid or revoked credential")
    }

    /// A client address refused for too many failures, unless its credential is known already.
    public func refusalBeforeLookup(_ request: Request, context: AppRequestContext, cacheKey: [UInt8]) -> Duration? {
        guard failures.isRefusingAnyone, cache.cachedPrincipal(forKeyHash: cacheKey) == nil else { return nil }
        return failures.refusal(for: client(request, context: context))
    }

    private func client(_ request: Request, context: AppRequestContext) -> String {
        proxies.client(peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: APIKeyAuthenticator.forwardedFor])
    }

    private func set(_ principal: Principal, on context: inout AppRequestContext) {
        context.principal = principal
        context.logger[metadataKey: "tenant_id"] = .string(principal.tenant.id)
        context.facts.tenantID = principal.tenant.id
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs; ASCII only, so a long header value is not bridged to Foundation.
    var trimmingSpaces: Substring {
        var view = self
        while let first = view.utf8.first, first == 0x20 || first == 0x09 { view = view.dropFirst() }
        while let last = view.utf8.last, last == 0x20 || last == 0x09 { view = view.dropLast() }
        return view
    }
}
