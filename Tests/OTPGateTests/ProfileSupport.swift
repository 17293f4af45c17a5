import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import OTPGateProfiles
import OTPGateTokens
import Testing

@testable import OTPGateServer

/// Records the profile suites import: one ITR taxpayer with a clear portal password, one reached by email only with a
/// passlib-style PBKDF2 hash, CKYC subjects for the happy path and each documented mobile error, and a customer.
enum ProfileFixture {
    static let pan = "ABCPE1234F"
    static let password = "Portal@123"
    static let mobile = "+919000000001"
    static let emailPAN = "BCDPE2345G"
    static let emailPassword = "Portal@456"
    static let ckyc = "12345678901234"
    static let ckycMobile = "9000000002"
    static let ckycNoMobile = "22345678901234"
    static let ckycUnregistered = "32345678901234"

    static let lines = [
        #"{"kind":"itr","keys":{"pan":"abcpe1234f"},"mobile":"9000000001","password":"Portal@123","payload":{"profile":{"name":"Asha Example","pan":"ABCPE1234F"},"itr_details":[{"itr_id":1,"name":"Asha Example","itr_type":"ITR-1"},{"itr_id":2,"name":"Asha Example","itr_type":"ITR-2"}],"itr_v":[{"filing_year":"2024","acknowledgement_no":"123"}],"itr_forms":[{"filing_year":"2024","download_link":"https://files.example/itr.pdf"}],"ais":{"2023-24":{"ais_file":"https://files.example/ais.pdf","file_type":"pdf"}},"itr_data":{"total_income":1200000},"itr_data_by_year":{"2024-25":{"total_income":1300000}}}}"#,
        #"{"kind":"itr","keys":{"pan":"BCDPE2345G"},"email":"Ravi.Example@Example.com","password":"$pbkdf2-sha256$i=10000,l=32$b3RwZ2F0ZS1zYWx0LTE2Yg$NJsow7VOnDGK3E8c9SzwE0ItIGANaWiHO4UN9n4wk6I","payload":{"itr_data":{"total_income":5}}}"#,
        #"{"kind":"ckyc","keys":{"ckyc_number":"12345678901234","id_number":"ABCPE1234F","document_type":"PAN","documents":[{"document_type":"VOTER","id_number":"XYZ1234567"}]},"mobile":"+919000000002","payload":{"search":{"full_name":"Asha Example","age":34},"download":{"personal_identifiable_data":{"personal_details":{"full_name":"Asha Example","dob":"1990-01-01","gender":"FEMALE"}}}}}"#,
        #"{"kind":"ckyc","keys":{"ckyc_number":"22345678901234","id_number":"CDEPE3456H","document_type":"PAN"},"payload":{"search":{"full_name":"No Mobile"}}}"#,
        #"{"kind":"ckyc","keys":{"ckyc_number":"32345678901234","id_number":"DEFPE4567J","document_type":"PAN"},"mobile":"+919000000003","payload":{"mobile_registered":false}}"#,
        #"{"kind":"customer","keys":{"entity_id":"ENT001","mobile":"9000000004","kit_no":"KIT-0001"},"email":"cust@example.com"}"#,
    ]

    static var jsonl: String { lines.joined(separator: "\n") + "\n" }
}

extension Harness {
    /// A credential of `profile` for this harness's tenant (or another), as `otpgate credentials create` makes it.
    func credential(_ profile: String, tenantID: String? = nil) async throws -> String {
        try await vendorCredential(profile, tenantID: tenantID).token
    }

    /// A credential with its profile's settings (Eko's initiator id, M2P's tenant header and dual mode).
    func vendorCredential(_ profile: String, tenantID: String? = nil, options: CredentialAdmin.Options = .init()) async throws
        -> CredentialAdmin.Created
    {
        let signer = try #require(runtime.signer as? JWTTokenSigner)
        return try await CredentialAdmin(store: store, signer: signer, issuer: "otpgate", clock: clock, random: SystemRandomSource())
            .create(tenantID: tenantID ?? tenant.id, profile: profile, options: options, cipher: engine.cipher)
    }

    /// Imports JSON Lines records for this harness's tenant (or another), as `otpgate records import` does.
    @discardableResult
    func importRecords(_ jsonl: String = ProfileFixture.jsonl, tenantID: String? = nil) async throws -> Int {
        let lines = try RecordImport.parse(Array(jsonl.utf8))
        return try await RecordImport(
            book: runtime.profiles.records, passwords: runtime.profiles.passwords, random: SystemRandomSource(), clock: clock
        )
        .run(lines, tenantID: tenantID ?? tenant.id)
    }

    /// The code in the last message delivered (the console channel's text starts with it).
    func lastCode() async throws -> String {
        await deliver()
        let text = try #require(sender.messages.last?.text)
        return String(text.prefix { $0.isNumber })
    }
}

extension TestClient {
    /// A request with a raw body and exactly these headers (no API key, no content type added).
    func raw(_ method: HTTPRequest.Method, _ path: String, body: [UInt8]? = nil, headers: HTTPFields) async throws -> APIResponse {
        try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }) { response in
            APIResponse(
                status: response.status, headers: response.headers, json: try? JSONParser.parse(Array(response.body.readableBytesView)))
        }
    }
}

extension APIResponse {
    /// `data.<key>` of a Surepass envelope.
    func data(_ key: String) -> JSONValue? {
        guard case .object(let data)? = self["data"] else { return nil }
        return data[key]
    }

    func dataString(_ key: String) -> String? {
        if case .string(let s)? = data(key) { return s }
        return nil
    }
}

/// The exact Surepass envelope of a failure.
func surepassFailure(_ status: Int, _ code: String?, _ message: String, data: JSONValue = .null) -> JSONValue {
    .object([
        "data": data, "status_code": .int(status), "message_code": code.map(JSONValue.string) ?? .null, "message": .string(message),
        "success": .bool(false),
    ])
}

func surepassSuccess(_ data: JSONValue, message: String = "Success") -> JSONValue {
    .object(["data": data, "status_code": .int(200), "message_code": .string("success"), "message": .string(message), "success": .bool(true)])
}

extension JSONValue {
    func member(_ name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members[name]
    }
}
