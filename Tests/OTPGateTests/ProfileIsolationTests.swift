import Foundation
import HTTPTypes
import OTPGateCore
import OTPGateTokens
import Testing

@testable import OTPGateServer

/// Credentials work only on their own profile and tenant; no credential or profile token passes as a native key or
/// verification token, and no native key or token passes as a credential. Every failure on a vendor path comes in
/// that vendor's envelope: never problem+json, never a 500, never HTML.
@Suite(.timeLimit(.minutes(5))) struct ProfileIsolationTests {
    static let surepass401: JSONValue = .object([
        "status_code": .int(401), "message_code": .string("unauthorized"), "message": .string("Invalid or missing authentication token"),
        "success": .bool(false),
    ])
    static let kwikid401: JSONValue = .object(["detail": .object([:]), "message": .string("Invalid token")])

    static func decodePart(_ part: String) throws -> JSONValue {
        var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        guard let data = Data(base64Encoded: base64) else { throw TestFailure("not base64url") }
        return try JSONValue(parsing: String(decoding: data, as: UTF8.self))
    }

    @Test func aCredentialWorksOnlyOnItsProfileAndTenant() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let surepass = try await h.credential("surepass")
        let kwikid = try await h.credential("kwikid")
        let other = try await h.makeTenant("other")
        let otherSurepass = try await h.credential("surepass", tenantID: other.tenant.id)
        try await h.test { client in
            let createBody = #"{"username":"ABCPE1234F","password":"Portal@123"}"#
            #expect(try await client.post("/api/v1/itr/create-client", createBody, key: kwikid).json == Self.surepass401)
            #expect(try await client.post("/api/v1/itr/create-client", createBody, key: h.apiKey).json == Self.surepass401)
            #expect(try await client.post("/api/v1/itr/create-client", createBody, key: nil).json == Self.surepass401)
            #expect(try await client.post("/verification/v2/itr/get_otp", createBody, key: surepass).json == Self.kwikid401)
            // A credential is not an API key.
            let native = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#, key: surepass)
            #expect(native.status == .unauthorized)
            #expect(native.problemCode == "unauthorized")

            // Another tenant's credential sees none of this tenant's records or sessions.
            #expect(try await client.post("/api/v1/itr/create-client", createBody, key: otherSurepass).status.code == 422)
            let created = try await client.post("/api/v1/itr/create-client", createBody, key: surepass)
            let clientID = try #require(created.dataString("client_id"))
            #expect(try await client.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(clientID)"}"#, key: otherSurepass).status.code == 404)

            // The credential token says what it is: its own typ, and an audience naming its profile.
            let parts = surepass.split(separator: ".").map(String.init)
            #expect(try Self.decodePart(parts[0]).member("typ") == .string("otpgate-credential+jwt"))
            #expect(try Self.decodePart(parts[1]).member("aud") == .string("otpgate:surepass"))
            // A credential token is not a verification token, and a verification token is not a credential.
            let introspection = try await client.post("/v1/tokens/verify", #"{"token":"\#(surepass)"}"#)
            #expect(introspection["valid"] == .bool(false))
            #expect(introspection.string("reason") == "malformed")
            let id = try await client.start()
            await h.deliver()
            let approved = try await client.check(id, try #require(h.sender.code(for: id)))
            let verificationToken = try #require(approved.string("token"))
            #expect(try await client.post("/api/v1/itr/create-client", createBody, key: verificationToken).json == Self.surepass401)
        }
    }

    /// Eko's developer key and M2P's client secret and access token work only where they belong: not as a Bearer on
    /// another profile or the native API, and an M2P access token is not a credential of any other profile.
    @Test func ekoAndM2PSecretsWorkOnlyOnTheirOwnProfile() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let eko = try EkoUser(await h.vendorCredential("eko", options: .init(initiatorID: EkoUser.initiatorID)), clock: h.clock)
        let m2p = try await h.vendorCredential("m2p")
        let surepass = try await h.credential("surepass")
        let createBody = #"{"username":"ABCPE1234F","password":"Portal@123"}"#
        try await h.test { client in
            let issued = try await client.post(
                "/auth/token", #"{"clientId":"\#(m2p.field("client_id") ?? "")","clientSecret":"\#(m2p.field("client_secret") ?? "")"}"#,
                key: .some(nil))
            let access = try #require(issued.string("access_token"))
            for secret in [eko.developerKey, m2p.field("client_secret") ?? "", access] {
                #expect(try await client.post("/api/v1/itr/create-client", createBody, key: secret).json == Self.surepass401)
                #expect(try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#, key: secret).status == .unauthorized)
                #expect(try await client.post("/v1/tokens/verify", #"{"token":"x"}"#, key: secret).status == .unauthorized)
            }
            // The native API does not take an M2P access token for introspection either.
            #expect(try await client.post("/v1/tokens/verify", #"{"token":"\#(access)"}"#)["valid"] == .bool(false))
            // Another profile's secret as Eko's developer_key, and a Surepass token as M2P's bearer or client secret.
            var forged = eko.headers()
            forged[HTTPField.Name("developer_key")!] = surepass
            #expect(
                try await client.eko(.post, "", #"{"initiator_id":"9962981729","csp_id":"C","mobile":"9002336768"}"#, headers: forged).ekoStatus
                    == 2483)
            #expect(
                try await client.post(
                    "/prepaid/customer/v1/otp/generate", #"{"entityId":"ENT001"}"#, key: surepass,
                    headers: [HTTPField.Name("X-TENANT-ID")!: h.tenant.id]
                ).status == .unauthorized)
            let crossed = try await client.post(
                "/auth/token", #"{"clientId":"\#(m2p.field("client_id") ?? "")","clientSecret":"\#(surepass)"}"#, key: .some(nil))
            #expect(crossed.status == .unauthorized)
        }
    }

    /// A key row bound to a profile is refused on the native API even when it has the API-key form (the check on the
    /// principal's profile, not only the key format, keeps them apart), and works on its own profile.
    @Test func aProfileBoundKeyIsRefusedOnTheNativeAPIWhateverItsForm() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let secret = APIKey.generate(random: SystemRandomSource())
        #expect(APIKey.isWellFormed(secret))
        try await h.store.createAPIKey(
            APIKeyRecord(
                id: "crd_apikeyshaped", tenantID: h.tenant.id, hash: APIKey.hash(secret), prefix: "surepass:…", createdAt: h.clock.now(),
                profile: "surepass"))
        try await h.test { (client: TestClient) async throws in
            let native = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#, key: secret)
            #expect(native.status == .unauthorized)
            let search = try await client.post("/api/v1/ckyc/search", #"{"id_number":"ABCPE1234F","document_type":"PAN"}"#, key: secret)
            #expect(search.status == .ok)
        }
    }

    /// Introspection refuses a profile token by either mark: its `typ`, or its `aud`, each on its own.
    @Test func introspectionRefusesAProfileTokenByItsTypeOrItsAudience() async throws {
        let h = try await Harness.make()
        let signer = try #require(h.runtime.signer as? JWTTokenSigner)
        let now = h.clock.now().seconds
        let claims = VerificationClaims(
            iss: "otpgate", sub: "vrf_x", tenantID: h.tenant.id, jti: "jti_x", iat: now, exp: now + 300, phoneNumber: "+919876543210",
            phoneNumberVerified: true, amr: ["otp", "sms"])
        guard case .object(let members) = claims.json else { throw TestFailure("claims are not an object") }
        // The control: verification claims with typ JWT and no aud are accepted.
        guard case .success = await signer.verifySignature(try signer.signProfileToken(members, typ: "JWT")) else {
            throw TestFailure("a verification-shaped token was refused")
        }
        let typed = try signer.signProfileToken(members, typ: CredentialAdmin.tokenType)
        #expect(await signer.verifySignature(typed) == .failure(.malformed))
        var withAudience = members
        withAudience["aud"] = .string("otpgate:surepass")
        #expect(await signer.verifySignature(try signer.signProfileToken(withAudience, typ: "JWT")) == .failure(.malformed))
    }

    @Test func aRevokedCredentialIsRefused() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let token = try await h.credential("surepass")
        let id = try #require(try await h.store.apiKeys(tenantID: h.tenant.id).first { $0.profile == "surepass" }?.id)
        try await h.test { (client: TestClient) async throws in
            let body = #"{"username":"ABCPE1234F","password":"Portal@123"}"#
            #expect(try await client.post("/api/v1/itr/create-client", body, key: token).status == .ok)
            #expect(try await h.store.revokeAPIKey(id: id, at: h.clock.now()))
            h.clock.advance(.seconds(6))  // past the key cache
            #expect(try await client.post("/api/v1/itr/create-client", body, key: token).json == Self.surepass401)
        }
    }

    /// Every Surepass and KwikID path answers malformed JSON, wrong types, a missing field and an empty body in the
    /// vendor's envelope with a 4xx.
    @Test func badInputGetsTheVendorsEnvelope() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let surepass = try await h.credential("surepass")
        let kwikid = try await h.credential("kwikid")
        let surepassPaths = [
            "itr/create-client", "itr/generate-2fa", "itr/submit-2fa", "itr/check-credentials", "itr/itr-details", "itr/download-itrv",
            "itr/download-itr-form", "itr/download-ais-v2", "itr/get-ais", "itr/get-profile-details", "itr/forget-password", "itr/submit-otp",
            "ckyc/search", "ckyc-v2/generate-otp", "ckyc-v2/download", "ckyc/v3/search/individual", "ckyc/v3/download/individual/initiate",
            "ckyc/v3/download/individual",
        ]
        let bodies = ["{bad", "[1,2]", "", "{}", #"{"client_id":5,"otp":123456,"username":1,"password":[],"id_number":{},"request_id":7}"#]
        try await h.test { client in
            for path in surepassPaths {
                for body in bodies {
                    let r = try await client.post("/api/v1/" + path, body, key: surepass)
                    #expect((400..<500).contains(r.status.code), "\(path) \(body): \(r.status)")
                    #expect(r["success"] == .bool(false), "\(path) \(body)")
                    #expect(r["status_code"] == .int(Int(r.status.code)), "\(path) \(body)")
                    #expect(r.headers[.contentType] == "application/json")
                }
            }
            for path in ["get_otp", "submit_otp", "get_data", "get_data_by_assessment_year", "logout"] {
                for body in bodies {
                    let r = try await client.post("/verification/v2/itr/" + path, body, key: kwikid)
                    #expect((400..<500).contains(r.status.code), "\(path) \(body): \(r.status)")
                    #expect(r["message"] != nil && r["code"] == nil, "\(path) \(body)")
                }
            }
            let unknown = try await client.get("/api/v1/itr/nothing-here", key: surepass)
            #expect(unknown.status.code == 404)
            #expect(unknown["success"] == .bool(false))
            let unknownKwikID = try await client.get("/verification/v2/nothing", key: kwikid)
            #expect(unknownKwikID.status.code == 404)
            #expect(unknownKwikID["message"] != nil)
            let tooBig = try await client.post(
                "/api/v1/itr/create-client", #"{"username":""# + String(repeating: "a", count: 70_000) + #""}"#, key: surepass)
            #expect(tooBig.status.code == 413)
            #expect(tooBig["success"] == .bool(false))
        }
    }
}
