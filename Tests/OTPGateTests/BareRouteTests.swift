import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// The benchmark's yardstick `POST /bench/bare` (issue 17): served only with `OTPGATE_BENCH_BARE_ROUTE`, refused in
/// production, behind the same middleware as a start, reading a start's body with the same JSON reader, and touching
/// neither authentication nor the store.
@Suite struct BareRouteTests {
    static let body = #"{"to":"+919876543210","channel":"sms"}"#

    @Test func servedOnlyWhenTurnedOnAndNeverInProduction() async throws {
        let off = try await Harness.make()
        try await off.test { client in
            let answer = try await client.post("/bench/bare", Self.body, key: .some(nil))
            #expect(answer.status == .notFound)
        }
        #expect(throws: ConfigurationError.self) {
            _ = try ServerSettings(environment: ["OTPGATE_BENCH_BARE_ROUTE": "on", "OTPGATE_ENV": "production"])
        }
        #expect(try ServerSettings(environment: [:]).benchBareRoute == false)
    }

    @Test func answersAFixedJSONBehindTheMiddlewareWithoutTheEngine() async throws {
        let h = try await Harness.make(environment: ["OTPGATE_BENCH_BARE_ROUTE": "on"])
        try await h.test { client in
            // No API key: no authentication runs on it.
            let answer = try await client.post("/bench/bare", Self.body, key: .some(nil))
            #expect(answer.status == .ok)
            #expect(answer.json == .object(["status": .string("ok"), "fields": .int(2)]))
            // The observability middleware ran: every answer carries its request id.
            #expect(answer.headers[HTTPField.Name("X-Request-Id")!] != nil)
            // The body is parsed with a start's reader: broken JSON and unknown fields are refused as for a start.
            let broken = try await client.post("/bench/bare", #"{"to":"#, key: .some(nil))
            #expect(broken.status == .badRequest)
            #expect(broken.problemCode == "malformed_json")
            let unknown = try await client.post("/bench/bare", #"{"to":"+919876543210","colour":"red"}"#, key: .some(nil))
            #expect(unknown.problemCode == "unknown_field")
            // The real API still wants its key.
            let unauthenticated = try await client.post("/v1/verifications", Self.body, key: .some(nil))
            #expect(unauthenticated.status == .unauthorized)
        }
        // Nothing reached the engine: no destination was counted and nothing was sent.
        #expect(try await h.destinationState("+919876543210") == nil)
        await h.deliver()
        #expect(h.sender.attempts == 0)
    }
}
