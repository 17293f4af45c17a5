import Foundation
import HTTPTypes
import HummingbirdTesting
import OTPGateCore
import Testing

@testable import OTPGateNativeAPI
@testable import OTPGateServer

/// Invalid API keys are limited per client address, counted in the store (so across instances), with the address
/// taken from `X-Forwarded-For` only when the peer is a trusted proxy.
@Suite struct FailedAuthenticationTests {
    static let bogus = "otpg_" + String(repeating: "x", count: 40)
    static func from(_ address: String) -> HTTPFields { [HTTPField.Name("X-Forwarded-For")!: address] }

    @Test(arguments: Backend.available) func anAddressPastTheLimitIsRefusedWithoutALookupUntilTheMinuteEnds(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend, environment: ["OTPGATE_AUTH_FAILURES_PER_MINUTE": "5", "OTPGATE_TRUSTED_PROXIES": "127.0.0.1, ::1"])
        let unseenKey = try await TenantAdmin(store: h.store, clock: h.clock, random: SeededRandom(seed: 77)).createKey(tenantID: h.tenant.id)
        try await h.test(mode: .live) { (client: TestClient) async throws in
            let attacker = Self.from("203.0.113.7")
            // A key this instance already knows keeps working for a client at the same address.
            #expect(try await client.get("/v1/verifications/vrf_missing", headers: attacker).status == .notFound)
            for _ in 0..<5 {
                #expect(try await client.get("/v1/verifications/vrf_missing", key: Self.bogus, headers: attacker).status == .unauthorized)
            }
            let refused = try await client.get("/v1/verifications/vrf_missing", key: Self.bogus, headers: attacker)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.problemCode == "rate_limited")
            #expect(refused.string("scope") == "client_address")
            #expect(refused.headers[.retryAfter].flatMap(Int.init).map { (1...60).contains($0) } == true)
            // Refused before any lookup: even a valid key this instance has not seen waits, while the known one works.
            #expect(try await client.get("/v1/verifications/vrf_missing", key: unseenKey.apiKey, headers: attacker).status == .tooManyRequests)
            #expect(try await client.get("/v1/verifications/vrf_missing", headers: attacker).status == .notFound)
            // Another client behind the same proxy is not affected.
            #expect(try await client.get("/v1/verifications/vrf_missing", key: Self.bogus, headers: Self.from("203.0.113.8")).status == .unauthorized)
            // A client cannot pick its address by prepending one: the proxy appends the real one last.
            #expect(
                try await client.get("/v1/verifications/vrf_missing", key: Self.bogus, headers: Self.from("198.51.100.1, 203.0.113.7")).status
                    == .tooManyRequests)

            // The next minute starts over.
            h.clock.advance(.seconds(60))
            #expect(try await client.get("/v1/verifications/vrf_missing", key: Self.bogus, headers: attacker).status == .unauthorized)
        }
    }

    @Test func anUntrustedPeerCannotSpreadItsFailuresOverForgedAddresses() async throws {
        let h = try await Harness.make(environment: ["OTPGATE_AUTH_FAILURES_PER_MINUTE": "3"])
        try await h.test(mode: .live) { (client: TestClient) async throws in
            for i in 0..<3 {
                #expect(try await client.get("/v1/verifications/x", key: Self.bogus, headers: Self.from("10.0.0.\(i)")).status == .unauthorized)
            }
            #expect(try await client.get("/v1/verifications/x", key: Self.bogus, headers: Self.from("10.0.0.99")).status == .tooManyRequests)
        }
    }

    @Test(arguments: Backend.available) func failuresCountAcrossInstances(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_AUTH_FAILURES_PER_MINUTE": "4"])
        let other = try await ServerRuntime.make(
            settings: h.runtime.settings, store: h.store,
            dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 3), sender: h.sender))
        for _ in 0..<2 {
            try await h.test(mode: .live) { (client: TestClient) async throws in
                #expect(try await client.get("/v1/verifications/x", key: Self.bogus).status == .unauthorized)
            }
            try await Harness.test(runtime: other, apiKey: h.apiKey, mode: .live) { (client: TestClient) async throws in
                #expect(try await client.get("/v1/verifications/x", key: Self.bogus).status == .unauthorized)
            }
        }
        // Four failures in all, two on each: the fifth is refused on either instance.
        try await Harness.test(runtime: other, apiKey: h.apiKey, mode: .live) { (client: TestClient) async throws in
            #expect(try await client.get("/v1/verifications/x", key: Self.bogus).status == .tooManyRequests)
        }
        try await h.test(mode: .live) { (client: TestClient) async throws in
            #expect(try await client.get("/v1/verifications/x", key: Self.bogus).status == .tooManyRequests)
        }
    }
}

@Suite struct TrustedProxiesTests {
    @Test func parsesNetworksAndAddresses() throws {
        let proxies = try TrustedProxies(parsing: "10.0.0.0/8, 192.168.1.10 ,fd00::/8")
        #expect(proxies.contains("10.200.3.4"))
        #expect(!proxies.contains("11.0.0.1"))
        #expect(proxies.contains("192.168.1.10"))
        #expect(!proxies.contains("192.168.1.11"))
        #expect(proxies.contains("fd12::1"))
        #expect(!proxies.contains("fe80::1"))
        #expect(proxies.contains("::ffff:10.1.1.1"))
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0/8", "::1/129", "1.2.3.4/-1"] {
            #expect(throws: TrustedProxiesError.self) { try TrustedProxies(parsing: bad) }
        }
        #expect(throws: (any Error).self) { try ServerSettings(environment: ["OTPGATE_TRUSTED_PROXIES": "10.0.0.0/99"]) }
        #expect(try ServerSettings(environment: [:]).trustedProxies == .none)
    }

    @Test func theClientIsThePeerUnlessThePeerIsTrusted() throws {
        let proxies = try TrustedProxies(parsing: "10.0.0.0/8")
        #expect(proxies.client(peer: "203.0.113.5", forwardedFor: ["1.1.1.1"]) == "203.0.113.5")
        #expect(proxies.client(peer: "10.0.0.2", forwardedFor: []) == "10.0.0.2")
        #expect(proxies.client(peer: "10.0.0.2", forwardedFor: ["1.1.1.1"]) == "1.1.1.1")
        // The rightmost untrusted hop: what the client wrote first is not believed.
        #expect(proxies.client(peer: "10.0.0.2", forwardedFor: ["6.6.6.6, 1.1.1.1", "10.9.9.9"]) == "1.1.1.1")
        // Garbage in the chain: the peer it came through is all that is known.
        #expect(proxies.client(peer: "10.0.0.2", forwardedFor: ["not-an-ip"]) == "10.0.0.2")
        #expect(proxies.client(peer: "::ffff:203.0.113.5", forwardedFor: []) == "203.0.113.5")
        #expect(proxies.client(peer: nil, forwardedFor: ["1.1.1.1"]) == "unknown")
    }
}
