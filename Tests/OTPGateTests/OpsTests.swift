import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateNativeAPI
@testable import OTPGateServer

/// Health, readiness, metrics, JWKS and the OpenAPI document.
@Suite struct OpsTests {
    @Test(arguments: Backend.available) func healthReadinessAndJWKSNeedNoKey(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            #expect(try await client.get("/healthz", key: .some(nil)).status == .ok)
            let ready = try await client.get("/readyz", key: .some(nil))
            #expect(ready.status == .ok)
            #expect(ready.string("database") == "ok")
            let jwks = try await client.get("/.well-known/jwks.json", key: .some(nil))
            #expect(jwks.status == .ok)
            #expect(jwks.headers[.contentType] == "application/jwk-set+json")
            guard case .array(let keys)? = jwks["keys"] else {
                Issue.record("no keys")
                return
            }
            #expect(keys.count == 1)
        }
    }

    @Test(arguments: Backend.available) func metricsCountRequestsAndVerificationsWithoutSecrets(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.test { client in
            let id = try await client.start()
            _ = try await client.post("/v1/verifications/\(id)/check", #"{"code":"0000000000"}"#)
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            _ = try await client.post("/v1/verifications/\(id)/check", #"{"code":"\#(code)"}"#)
            // Two email starts: each label value keeps its own count (handles are cached by name and labels).
            for n in 1...2 {
                let email = try await client.post("/v1/verifications", #"{"to":"user\#(n)@example.com","channel":"email"}"#)
                #expect(email.status == .created)
            }
            // Served by the metrics listener (issue 12: never on the public port).
            let response = try await h.scrapeMetrics()
            #expect(response.contains(#"otpgate_verifications_started_total{channel="sms"} 1"#))
            #expect(response.contains(#"otpgate_verifications_started_total{channel="email"} 2"#))
            #expect(response.contains(#"otpgate_verifications_approved_total{channel="sms"} 1"#))
            #expect(response.contains(#"otpgate_verifications_failed_total{channel="sms"} 1"#))
            #expect(response.contains(#"otpgate_http_requests_total{route="/v1/verifications/{id}/check",method="POST",status="422"} 1"#))
            #expect(response.contains(#"otpgate_http_requests_total{route="/v1/verifications/{id}/check",method="POST",status="200"} 1"#))
            #expect(response.contains(#"otpgate_http_requests_total{route="/v1/verifications",method="POST",status="201"} 3"#))
            // Labels carry the route template, never the id of a verification.
            #expect(!response.contains(id))
            #expect(response.contains("otpgate_http_request_duration_seconds_bucket"))
            #expect(response.contains(#"otpgate_messages_total{channel="sms",sender="recording",outcome="sent"} 1"#))
            #expect(!response.contains("9876543210"))
            #expect(!response.contains(code))
            #expect(!response.contains(h.apiKey))
        }
    }

    @Test(arguments: Backend.available) func theOpenAPIDocumentDescribesExactlyTheServedRoutes(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        _ = h.runtime.buildRouter()
        let served = Set(h.runtime.registeredRoutes.map { "\($0.method) \($0.path)" })
        let document = try JSONParser.parse(try #require(OpenAPIDocument.json))
        guard case .object(let root) = document, case .object(let paths)? = root["paths"] else {
            Issue.record("no paths")
            return
        }
        #expect(root["openapi"] == .string("3.1.0"))
        var described = Set<String>()
        for (path, item) in paths {
            guard case .object(let operations) = item else { continue }
            for method in operations.keys where ["get", "post", "put", "patch", "delete"].contains(method) { described.insert("\(method) \(path)") }
        }
        #expect(described == served)
        try await h.test { client in
            let r = try await client.get("/openapi.json", key: .some(nil))
            #expect(r.status == .ok)
            #expect(r["openapi"] == .string("3.1.0"))
        }
    }
}

/// Log lines say which tenant a request was for (issue 12: the docs promised it, the request line lacked it).
@Suite struct RequestLogTests {
    @Test func theRequestLineCarriesTheTenantOnceAuthenticated() async throws {
        let h = try await Harness.make()
        let logs = LogRecorder()
        try await h.test(logs: logs) { client in
            _ = try await client.start()
            #expect(try await client.get("/v1/verifications/vrf_missing", key: .some(nil)).status == .unauthorized)
        }
        let requests = logs.all.filter { $0.message == "request" }
        #expect(requests.count == 2)
        #expect(requests.first?.metadata["tenant_id"] == h.tenant.id)
        #expect(requests.first?.metadata["status"] == "201")
        #expect(requests.last?.metadata["tenant_id"] == nil)
        #expect(requests.last?.metadata["status"] == "401")
    }
}

/// Metrics are on their own listener (issue 12): the public router serves no spelling of `/metrics`.
@Suite struct MetricsListenerTests {
    @Test func thePublicPortAnswers404ForEverySpellingOfMetrics() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            for path in ["/metrics", "/metrics/", "//metrics", "/METRICS", "/metrics?x=1", "/./metrics", "/v1/../metrics"] {
                let response = try await client.client.execute(uri: path, method: .get) { $0 }
                #expect(response.status == .notFound, "\(path) answered \(response.status)")
                #expect(!String(buffer: response.body).contains("otpgate_"), "\(path) leaked metrics")
            }
        }
        #expect(try await h.scrapeMetrics().contains("otpgate_http_requests_total"))
    }
}
