import Foundation
import OTPGateCore
import Testing

/// The sealing and blind-index mechanism every table with personal data uses.
@Suite struct PersonalDataCipherTests {
    let cipher = PersonalDataCipher(dataKey: Array(repeating: 7, count: 32))

    @Test func aSealedValueOpensOnlyForItsRowAndPurpose() throws {
        let plain = Array("+919812345678".utf8)
        let sealed = try cipher.seal(plain, purpose: "verification", rowID: "vrf_a")
        #expect(try cipher.open(sealed, purpose: "verification", rowID: "vrf_a") == plain)
        #expect(Data(sealed).range(of: Data(plain)) == nil)
        // A fresh nonce each time: equal values do not give equal ciphertexts.
        #expect(try cipher.seal(plain, purpose: "verification", rowID: "vrf_a") != sealed)
        #expect(throws: SecretBoxError.self) { try cipher.open(sealed, purpose: "verification", rowID: "vrf_b") }
        #expect(throws: SecretBoxError.self) { try cipher.open(sealed, purpose: "outbox", rowID: "vrf_a") }
        var tampered = sealed
        tampered[tampered.count - 1] ^= 1
        #expect(throws: SecretBoxError.self) { try cipher.open(tampered, purpose: "verification", rowID: "vrf_a") }
        #expect(throws: SecretBoxError.self) {
            try PersonalDataCipher(dataKey: Array(repeating: 8, count: 32)).open(sealed, purpose: "verification", rowID: "vrf_a")
        }
    }

    @Test func blindIndexesMeetForEqualValuesOfOneTenantOnly() {
        let a = cipher.blindIndex(tenantID: "ten_a", kind: "sms", value: "+919812345678")
        #expect(a == cipher.blindIndex(tenantID: "ten_a", kind: "sms", value: "+919812345678"))
        #expect(a.hasPrefix(PersonalDataCipher.indexPrefix))
        #expect(a.count == PersonalDataCipher.indexPrefix.count + 32)
        #expect(!a.contains("9812345678"))
        #expect(a != cipher.blindIndex(tenantID: "ten_b", kind: "sms", value: "+919812345678"))
        #expect(a != cipher.blindIndex(tenantID: "ten_a", kind: "email", value: "+919812345678"))
        #expect(a != cipher.blindIndex(tenantID: "ten_a", kind: "sms", value: "+919812345679"))
        #expect(a != PersonalDataCipher(dataKey: Array(repeating: 8, count: 32)).blindIndex(tenantID: "ten_a", kind: "sms", value: "+919812345678"))
    }

    @Test func aVerificationIsStoredSealedAndRevealedWhole() throws {
        let v = Verification(
            id: "vrf_a", tenantID: "ten_a", channel: .email, destination: "known.person@example.com", purpose: "kyc", locale: nil,
            reference: "loan-1", context: #"{"pan":"ABCPE1234F"}"#, codeLength: 6, codeHash: Data([1]), state: .pending, attempts: 0,
            maxAttempts: 5, sends: 1, maxSends: 5, ttlSeconds: 300, createdAt: Timestamp(seconds: 1), expiresAt: Timestamp(seconds: 301),
            lastSentAt: Timestamp(seconds: 1), resendAvailableAt: Timestamp(seconds: 31), updatedAt: Timestamp(seconds: 1))
        let sealed = try cipher.sealed(v)
        #expect(sealed.destinationKey == cipher.destinationKey(Destination(unchecked: v.destination, channel: .email), tenantID: "ten_a"))
        var stored = sealed
        (stored.destination, stored.reference, stored.context) = ("", nil, nil)
        #expect(try cipher.reveal(stored) == sealed)
        // Moved to another row, the sealed fields do not open.
        var moved = stored
        moved.id = "vrf_b"
        #expect(throws: StoreError.self) { try cipher.reveal(moved) }
    }
}
