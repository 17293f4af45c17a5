import Crypto
import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// An Eko API user as the tests sign for it: the credential's keys and a way to sign each request at the harness's time.
struct EkoUser {
    let developerKey: String
    let accessKey: String
    let initiator: String
    let clock: TestClock

    static let initiatorID = "9962981729"
    static let prefix = "/ekoapi/v3/tools/kyc/mobile/otp"

    init(_ created: CredentialAdmin.Created, clock: TestClock) throws {
        developerKey = try #require(created.field("developer_key"))
        accessKey = try #require(created.field("access_key"))
        initiator = try #require(created.field("initiator_id"))
        self.clock = clock
    }

    /// Eko's formula, written out here independently of the server's: base64(HMAC-SHA256(ASCII of base64(access_key), timestamp)).
    static func signature(accessKey: String, timestamp: String) -> String {
        let key = SymmetricKey(data: Array(Data(accessKey.utf8).base64EncodedString().utf8))
        return Data(HMAC<SHA256>.authenticationCode(for: Array(timestamp.utf8), using: key)).base64EncodedString()
    }

    /// The three authentication headers under the given names (Eko's spelling by default), signed at `at` (the harness's
    /// clock by default, moved `offset` milliseconds so that each request of a test is signed differently).
    func headers(
        at: Timestamp? = nil, offset: Int64 = 0, names: (String, String, String) = ("developer_key", "secret-key", "secret-key-timestamp"),
        contentType: String? = "application/json", signature: String? = nil
    ) -> HTTPFields {
        let timestamp = String((at ?? clock.now()).milliseconds + offset)
        var fields = HTTPFields()
        fields[HTTPField.Name(names.0)!] = developerKey
        fields[HTTPField.Name(names.1)!] = signature ?? Self.signature(accessKey: accessKey, timestamp: timestamp)
        fields[HTTPField.Name(names.2)!] = timestamp
        if let contentType { fields[.contentType] = contentType }
        return fields
    }
}

extension TestClient {
    func eko(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, headers: HTTPFields) async throws -> APIResponse {
        try await raw(method, EkoUser.prefix + path, body: body.map { Array($0.utf8) }, headers: headers)
    }
}

extension APIResponse {
    /// The envelope's `status` (0 = success).
    var ekoStatus: Int? { int("status") }
}

/// Eko's documented failure of a verify.
let ekoVerificationFailed: JSONValue = .object([
    "status": .int(1), "response_status_id": .int(1), "response_type_id": .int(1632), "message": .string("OTP verification failed."),
    "data": .object([:]),
])
