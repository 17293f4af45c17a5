import Foundation
import HTTPTypes
import OTPGateCore
import OTPGateDelivery
import Testing

@testable import OTPGateServer

/// A tenant's own DLT registration and gateway account (`otpgate tenant delivery`): its messages carry its sender
/// header and entity id through the deployment's gateway, or go through its own gateway account; other tenants keep
/// the deployment's; the settings are sealed in the store. Real HTTP gateways on loopback, both backends.
@Suite(.timeLimit(.minutes(3))) struct TenantDeliveryTests {
    @Test(arguments: Backend.available) func aTenantSendsUnderItsOwnRegistrationAndAccount(backend: Backend) async throws {
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            var environment = DeliveryEndToEndTests.environment(.webhook, base: base)
            environment["OTPGATE_SMS_SENDER"] = "OTPGTE"
            environment["OTPGATE_SMS_DLT_ENTITY_ID"] = "1201159543060917386"
            let h = try await Harness.make(backend: backend, environment: environment, realDelivery: true)
            let other = try await h.makeTenant("other")
            let own = try await h.makeTenant("own-account")

            var registration = TenantDeliverySettings()
            registration.dlt = DLTRegistration(sender: "ACMEBK", entityID: "1101456789012345678", templateID: "1107161234567890123")
            let sealed = try registration.validated().sealed(with: h.engine.cipher, tenantID: h.tenant.id)
            try await h.store.saveTenantDelivery(tenantID: h.tenant.id, sealedSettings: sealed, now: h.clock.now())
            #expect(!String(decoding: sealed, as: UTF8.self).contains("ACMEBK"))

            let ownSecret = "whsec_" + Data(repeating: 7, count: 24).base64EncodedString()
            var account = TenantDeliverySettings()
            account.provider = .webhook
            account.webhookURL = base + "/own-gateway"
            account.webhookSecret = ownSecret
            try await h.store.saveTenantDelivery(
                tenantID: own.tenant.id, sealedSettings: try account.validated().sealed(with: h.engine.cipher, tenantID: own.tenant.id),
                now: h.clock.now())

            try await h.test { (client: TestClient) async throws in
                _ = try await client.start(to: "+919876500001")
                _ = try await client.start(to: "+919876500002", key: .some(other.apiKey))
                _ = try await client.start(to: "+919876500003", key: .some(own.apiKey))
                await h.deliver()
                let requests = gateway.requests
                func request(to phone: String) throws -> GatewayTestServer.Recorded {
                    try #require(requests.first { $0.json["to"] as? String == phone })
                }
                let acme = try request(to: "+919876500001")
                #expect(acme.path == "/sms")
                #expect(acme.json["sender"] as? String == "ACMEBK")
                #expect(acme.json["dlt_entity_id"] as? String == "1101456789012345678")
                #expect(acme.json["dlt_template_id"] as? String == "1107161234567890123")
                let deployment = try request(to: "+919876500002")
                #expect(deployment.json["sender"] as? String == "OTPGTE")
                #expect(deployment.json["dlt_entity_id"] as? String == "1201159543060917386")
                // Its own account: its own URL, signed with its own secret; the deployment's registration otherwise.
                let ownRequest = try request(to: "+919876500003")
                #expect(ownRequest.path == "/own-gateway")
                let signer = try StandardWebhookSignature(secret: ownSecret)
                #expect(
                    signer.verify(
                        id: try #require(ownRequest.headers["webhook-id"]), timestamp: try #require(ownRequest.headers["webhook-timestamp"]),
                        signatures: try #require(ownRequest.headers["webhook-signature"]), body: ownRequest.body, now: h.clock.now().seconds))
                #expect(ownRequest.json["sender"] as? String == "OTPGTE")
            }
        }
    }

    /// Settings that do not open (another data key, a damaged row) never send the tenant's SMS through the deployment's
    /// gateway under the deployment's registration: the message waits, retried, and the error names the settings.
    @Test func unusableSettingsHoldTheTenantsMessages() async throws {
        let gateway = GatewayTestServer()
        try await gateway.run { base in
            let h = try await Harness.make(environment: DeliveryEndToEndTests.environment(.webhook, base: base), realDelivery: true)
            try await h.store.saveTenantDelivery(tenantID: h.tenant.id, sealedSettings: Array(repeating: 9, count: 64), now: h.clock.now())
            try await h.test { (client: TestClient) async throws in
                let id = try await client.start()
                await h.deliver()
                #expect(gateway.requests.isEmpty)
                let message = try #require(try await h.store.outboxMessages(verificationID: id).first)
                #expect(message.state == .pending)
                #expect(message.lastError?.contains("tenant's delivery settings") == true)
            }
        }
    }

    @Test func badSettingsAreRefusedNamingTheOption() throws {
        func refusal(_ change: (inout TenantDeliverySettings) -> Void) -> String? {
            var s = TenantDeliverySettings()
            change(&s)
            do throws(FieldRefusal) {
                _ = try s.validated()
                return nil
            } catch {
                return error.field
            }
        }
        #expect(refusal { $0.dlt.sender = "TOOLONGX" } == "sms-sender")
        #expect(refusal { $0.dlt.entityID = "12ab" } == "dlt-entity-id")
        #expect(refusal { $0.provider = .webhook } == "webhook-url")
        #expect(
            refusal {
                $0.provider = .webhook
                $0.webhookURL = "https://gw.example.in/sms"
            } == "webhook-secret")
        #expect(
            refusal {
                $0.provider = .twilio
                $0.twilioAccountSID = "AC1"
            } == "twilio-account-sid")
        #expect(refusal { $0.provider = .msg91 } == "msg91-auth-key")
        #expect(refusal { $0.dlt.sender = "ACMEBK" } == nil)
    }
}
