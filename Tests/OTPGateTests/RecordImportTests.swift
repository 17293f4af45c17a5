import Foundation
import OTPGateCore
import OTPGateProfiles
import Synchronization
import Testing

@testable import OTPGateServer

/// `otpgate records import`: validation names each bad line, nothing is written unless every line is good, records
/// upsert by kind and identity, clear passwords become slow hashes, and progress is reported.
@Suite(.timeLimit(.minutes(5))) struct RecordImportTests {
    @Test func everyBadLineIsNamedAndNothingIsWritten() async throws {
        let h = try await Harness.make()
        let file = [
            ProfileFixture.lines[0],
            #"{"kind":"itr","keys":{"pan":"NOTAPAN"}}"#,
            "not json",
            #"{"kind":"loan","keys":{}}"#,
            #"{"kind":"ckyc","keys":{"ckyc_number":"123"}}"#,
            #"{"kind":"itr","keys":{"pan":"ABCPE1234F"},"mobile":"12"}"#,
            #"{"kind":"itr","keys":{"pan":"ABCPE1234F"},"password":"$scrypt$ln=40,r=8,p=1$b3RwZ2F0ZS1zYWx0LTE2Yg$0X6S5sJUfwhbOYQgumlH0jXVBy/YnFrzg1Pg8ziKSFU"}"#,
            #"{"kind":"itr","keys":{"pan":"ABCPE1234F"},"extra":1}"#,
            "",
            #"{"kind":"ckyc","keys":{"ckyc_number":"12345678901234","id_number":"X"}}"#,
        ].joined(separator: "\n")
        do {
            _ = try RecordImport.parse(Array(file.utf8))
            Issue.record("a file with bad lines was accepted")
        } catch {
            #expect(error.errors.map(\.line) == [2, 3, 4, 5, 6, 7, 8, 10])
            #expect(error.errors[0].reason == "keys.pan is not a valid PAN")
            #expect(error.errors[1].reason == "not a JSON object")
            #expect(error.errors[5].reason.hasPrefix("password hash: scrypt parameters out of range"))
            #expect(error.errors[6].reason == "unknown member \"extra\"")
            #expect(error.errors[7].reason == "keys.id_number and keys.document_type go together")
        }
        #expect(try await h.store.recordCounts(tenantID: h.tenant.id) == [:])
    }

    @Test func repeatedIdentitiesAndUnknownDocumentTypesAreRefused() throws {
        let file = [
            #"{"kind":"itr","keys":{"pan":"ABCPE1234F"},"payload":null}"#,
            #"{"kind":"itr","keys":{"pan":"abcpe1234f"}}"#,
            #"{"kind":"ckyc","keys":{"ckyc_number":"12345678901234","id_number":"X1","document_type":"PASPORT"}}"#,
            #"{"kind":"itr","keys":{"kit_no":"1","pan":"BCDPE2345G"}}"#,
        ].joined(separator: "\n")
        do {
            _ = try RecordImport.parse(Array(file.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.errors.map(\.line) == [2, 3, 4])
            #expect(error.errors[0].reason == "repeats the pan of line 1")
            #expect(error.errors[1].reason.hasPrefix("document_type PASPORT is not one of AADHAAR, CKYC_REFERENCE_ID, DRIVING_LICENSE"))
            #expect(error.errors[2].reason == "keys.kit_no is not a key of an itr record")
        }
    }

    @Test(arguments: Backend.available) func importUpsertsByIdentityAndHashesClearPasswords(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let phases = Mutex<[RecordImport.Phase: Int]>([:])
        let lines = try RecordImport.parse(Array(ProfileFixture.jsonl.utf8))
        let count = try await RecordImport(
            book: h.runtime.profiles.records, passwords: h.runtime.profiles.passwords, random: SystemRandomSource(), clock: h.clock
        )
        .run(lines, tenantID: h.tenant.id) { phase, done in phases.withLock { $0[phase] = max($0[phase] ?? 0, done) } }
        #expect(count == 6)
        #expect(phases.withLock { $0 } == [.hashing: 1, .writing: 6])
        #expect(try await h.store.recordCounts(tenantID: h.tenant.id) == ["itr": 2, "ckyc": 3, "customer": 1])
        let found = try #require(try await h.runtime.profiles.records.find(tenantID: h.tenant.id, kind: .itr, lookup: "pan=ABCPE1234F"))
        let hash = try #require(found.record.passwordHash)
        #expect(hash.hasPrefix("$scrypt$ln=14,r=8,p=1$"))
        #expect(PasswordHash.verify(ProfileFixture.password, against: hash))
        #expect(found.record.mobile == ProfileFixture.mobile)

        // The same identity again replaces the record (and its lookups): still six records.
        try await h.importRecords(#"{"kind":"itr","keys":{"pan":"ABCPE1234F"},"mobile":"+919000000099","payload":{"profile":{"name":"New"}}}"#)
        #expect(try await h.store.recordCounts(tenantID: h.tenant.id) == ["itr": 2, "ckyc": 3, "customer": 1])
        let replaced = try #require(try await h.runtime.profiles.records.find(tenantID: h.tenant.id, kind: .itr, lookup: "pan=ABCPE1234F"))
        #expect(replaced.id == found.id)
        #expect(replaced.record.mobile == "+919000000099")
        // Customers are found by each of their keys; another tenant finds nothing.
        for lookup in ["entity_id=ENT001", "mobile=+919000000004", "kit_no=KIT0001"] {
            #expect(try await h.runtime.profiles.records.find(tenantID: h.tenant.id, kind: .customer, lookup: lookup) != nil, "\(lookup)")
        }
        #expect(try await h.runtime.profiles.records.find(tenantID: "ten_other", kind: .itr, lookup: "pan=ABCPE1234F") == nil)
        // Re-importing without a password keeps the stored hash.
        #expect(replaced.record.passwordHash == hash)
    }

    /// The fixture a newcomer uses from the README imports cleanly.
    @Test func theExampleFixtureImports() async throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/records.jsonl")
        let data = try Data(contentsOf: path)
        let lines = try RecordImport.parse(Array(data))
        #expect(lines.count >= 6)
        #expect(Set(lines.map(\.record.kind)) == [.itr, .ckyc, .customer])
    }
}

@Suite struct PasswordHashTests {
    @Test func verifiesHashesMadeElsewhere() {
        // Made with Python's hashlib: pbkdf2_hmac / scrypt with salt b"otpgate-salt-16b".
        #expect(
            PasswordHash.verify(
                "Portal@456", against: "$pbkdf2-sha256$i=10000,l=32$b3RwZ2F0ZS1zYWx0LTE2Yg$NJsow7VOnDGK3E8c9SzwE0ItIGANaWiHO4UN9n4wk6I"))
        #expect(PasswordHash.verify("Portal@456", against: "$pbkdf2-sha256$29000$b3RwZ2F0ZS1zYWx0LTE2Yg$SDqZ99zvv4jVNd2lttJgkvQzH8gGuuYPrW9Z6eU3Av0"))
        #expect(
            PasswordHash.verify("Portal@789", against: "$scrypt$ln=10,r=8,p=1$b3RwZ2F0ZS1zYWx0LTE2Yg$0X6S5sJUfwhbOYQgumlH0jXVBy/YnFrzg1Pg8ziKSFU"))
        #expect(
            !PasswordHash.verify("Portal@788", against: "$scrypt$ln=10,r=8,p=1$b3RwZ2F0ZS1zYWx0LTE2Yg$0X6S5sJUfwhbOYQgumlH0jXVBy/YnFrzg1Pg8ziKSFU"))
        #expect(
            !PasswordHash.verify(
                "Portal@456", against: "$pbkdf2-sha256$i=10000,l=32$b3RwZ2F0ZS1zYWx0LTE2Yg$AJsow7VOnDGK3E8c9SzwE0ItIGANaWiHO4UN9n4wk6I"))
    }

    @Test func newHashesAreSaltedScrypt() throws {
        let a = try PasswordHash.hash("Same@1234", random: SystemRandomSource(), logN: 10)
        let b = try PasswordHash.hash("Same@1234", random: SystemRandomSource(), logN: 10)
        #expect(a != b)
        #expect(a.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(PasswordHash.verify("Same@1234", against: a) && PasswordHash.verify("Same@1234", against: b))
    }

    @Test func malformedOrTooCostlyStringsAreRefused() {
        for bad in [
            "plain", "$md5$x$y$z", "$scrypt$ln=30,r=8,p=1$b3RwZ2F0ZS1zYWx0LTE2Yg$0X6S5sJUfwhbOYQgumlH0jXVBy/YnFrzg1Pg8ziKSFU",
            "$pbkdf2-sha256$999999999$b3RwZ2F0ZS1zYWx0LTE2Yg$SDqZ99zvv4jVNd2lttJgkvQzH8gGuuYPrW9Z6eU3Av0", "$scrypt$ln=10$salt$hash",
            // Fits 256 MiB by the formula, but not what a check may use: refused, so no imported login silently fails.
            "$scrypt$ln=17,r=16,p=1$b3RwZ2F0ZS1zYWx0LTE2Yg$0X6S5sJUfwhbOYQgumlH0jXVBy/YnFrzg1Pg8ziKSFU",
        ] {
            #expect(throws: PasswordHash.Format.self, "\(bad)") { try PasswordHash.validate(bad) }
            #expect(!PasswordHash.verify("x", against: bad))
        }
    }
}
