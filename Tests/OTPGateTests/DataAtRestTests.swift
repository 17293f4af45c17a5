import Crypto
import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Personal data at rest: after a full scenario (starts by SMS and email with a reference, a context and an
/// idempotency key, a failed check that writes the destination's record, a resend, an approval), the raw database
/// — the SQLite file and its WAL, or a `pg_dump` — holds none of the known values, while every limit keyed by the
/// destination still meets and the API still answers with them.
@Suite struct DataAtRestTests {
    static let phone = "+919812345678"
    static let email = "Known.Person@Example.com"
    static let canonicalEmail = "known.person@example.com"
    static let reference = "loan-77812345"
    static let contextValue = "ABCPE1234F"

    /// Byte strings that must not appear anywhere in the stored data.
    static let secrets = [
        "9812345678", canonicalEmail, "Known.Person", "known.person", reference, contextValue, pan, "knwpe7777k", name, "Kavya", portalPassword,
        "Knownname", ckycNumber, "XYZ9876543",
    ]
    /// A taxpayer and a CKYC subject in the records store, run through the Surepass and KwikID flows.
    static let pan = "KNWPE7777K"
    static let name = "Kavya Knownname"
    static let portalPassword = "Portal@Known1"
    static let ckycNumber = "77712345678901"
    static let records = [
        #"{"kind":"customer","keys":{"entity_id":"KNOWN-ENTITY-1","mobile":"9812345678"},"email":"Known.Person@Example.com"}"#,
        #"{"kind":"itr","keys":{"pan":"knwpe7777k"},"mobile":"9812345678","email":"Known.Person@Example.com","password":"Portal@Known1","payload":{"profile":{"name":"Kavya Knownname","pan":"KNWPE7777K"},"itr_data":{"name":"Kavya Knownname"}}}"#,
        #"{"kind":"ckyc","keys":{"ckyc_number":"77712345678901","id_number":"KNWPE7777K","document_type":"PAN","documents":[{"document_type":"VOTER","id_number":"XYZ9876543"}]},"mobile":"+919812345678","payload":{"search":{"full_name":"Kavya Knownname"},"download":{"personal_identifiable_data":{"personal_details":{"full_name":"Kavya Knownname"}}}}}"#,
    ].joined(separator: "\n")

    /// The vendor flows over the known subjects; returns the credentials' secrets, which must not be stored in clear either.
    func profileScenario(_ h: Harness) async throws -> [String] {
        // The native scenario ends with a start whose message is still waiting: deliver it now, so `lastCode()` below
        // never races it (messages of one drain finish in any order).
        await h.deliver()
        try await h.importRecords(Self.records)
        let surepass = try await h.credential("surepass")
        let kwikid = try await h.credential("kwikid")
        try await h.test { client in
            let created = try await client.post(
                "/api/v1/itr/create-client", #"{"username":"\#(Self.pan)","password":"\#(Self.portalPassword)"}"#, key: surepass)
            let clientID = try #require(created.dataString("client_id"))
            _ = try await client.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(clientID)"}"#, key: surepass)
            let code = try await h.lastCode()
            #expect(try await client.post("/api/v1/itr/submit-2fa", #"{"client_id":"\#(clientID)","otp":"\#(code)"}"#, key: surepass).status == .ok)
            let profile = try await client.post("/api/v1/itr/get-profile-details", #"{"client_id":"\#(clientID)"}"#, key: surepass)
            #expect(profile.data("profile_details")?.member("name") == .string(Self.name))
            let search = try await client.post("/api/v1/ckyc/search", #"{"id_number":"XYZ9876543","document_type":"VOTER"}"#, key: surepass)
            let searchID = try #require(search.dataString("client_id"))
            let generated = try await client.post(
                "/api/v1/ckyc-v2/generate-otp", #"{"client_id":"\#(searchID)","mobile_number":"9812345678"}"#, key: surepass)
            let downloadID = try #require(generated.dataString("client_id"))
            let ckycCode = try await h.lastCode()
            #expect(
                try await client.post("/api/v1/ckyc-v2/download", #"{"client_id":"\#(downloadID)","otp":"\#(ckycCode)"}"#, key: surepass).status
                    == .ok)
            h.clock.advance(.seconds(3600))
            _ = try await client.post("/verification/v2/itr/get_otp", #"{"pan":"\#(Self.pan)","password":"\#(Self.portalPassword)"}"#, key: kwikid)
            let kwikCode = try await h.lastCode()
            #expect(
                try await client.post("/verification/v2/itr/submit_otp", #"{"pan":"\#(Self.pan)","otp":"\#(kwikCode)"}"#, key: kwikid).status == .ok)
        }
        // Eko: the known mobile proved; M2P: a dual OTP to the known mobile and email (the email is sealed with the verification).
        let eko = try EkoUser(await h.vendorCredential("eko", options: .init(initiatorID: EkoUser.initiatorID)), clock: h.clock)
        let m2p = try await h.vendorCredential("m2p", options: .init(separateDualCodes: true))
        try await h.test { client in
            let sent = try await client.eko(.post, "", #"{"initiator_id":"9962981729","csp_id":"C","mobile":"9812345678"}"#, headers: eko.headers())
            #expect(sent.ekoStatus == 0)
            let code = try await h.lastCode()
            let verified = try await client.eko(
                .put, "/verify", #"{"initiator_id":"9962981729","otp":"\#(code)","mobile":"9812345678"}"#, headers: eko.headers(offset: 1))
            #expect(verified.ekoStatus == 0)
            let token = try await client.post(
                "/auth/token", #"{"clientId":"\#(m2p.field("client_id") ?? "")","clientSecret":"\#(m2p.field("client_secret") ?? "")"}"#,
                key: .some(nil))
            let bearer = try #require(token.string("access_token"))
            let generated = try await client.post(
                "/prepaid/customer/v1/otp/generate", #"{"entityId":"KNOWN-ENTITY-1","otpType":"D"}"#, key: bearer,
                headers: [HTTPField.Name("X-TENANT-ID")!: h.tenant.id])
            #expect(generated["result"]?.member("status") == .bool(true))
        }
        return [eko.accessKey, eko.developerKey, try #require(m2p.field("client_secret"))]
    }

    func scenario(_ h: Harness) async throws {
        try await h.test { client in
            let sms = try await client.start(
                to: Self.phone, extra: #","reference":"\#(Self.reference)","context":{"pan":"\#(Self.contextValue)"}"#)
            let keyed = try await client.post(
                "/v1/verifications", #"{"to":"\#(Self.email)","channel":"email","reference":"\#(Self.reference)"}"#,
                headers: [HTTPField.Name("Idempotency-Key")!: "k-1"])
            #expect(keyed.status == .created)
            // An idempotent replay comes back from the stored (sealed) snapshot with the values in clear.
            let replay = try await client.post(
                "/v1/verifications", #"{"to":"\#(Self.email)","channel":"email","reference":"\#(Self.reference)"}"#,
                headers: [HTTPField.Name("Idempotency-Key")!: "k-1"])
            #expect(replay.string("reference") == Self.reference)
            #expect(replay.string("id") == keyed.string("id"))

            await h.deliver()
            let code = try #require(h.sender.code(for: sms))
            #expect(h.sender.messages.last { $0.verificationID == sms }?.destination == Self.phone)
            #expect(try await client.check(sms, wrongCode(for: code)).problemCode == "incorrect_code")
            #expect(try await h.destinationState(Self.phone)?.failedChecks == 1)
            h.clock.advance(.seconds(120))
            #expect(try await client.post("/v1/verifications/\(sms)/resend").status == .ok)
            await h.deliver()
            let fresh = try #require(h.sender.code(for: sms))
            #expect(fresh != code)
            let approved = try await client.check(sms, fresh)
            #expect(approved.string("status") == "approved")
            let read = try await client.get("/v1/verifications/\(sms)")
            #expect(read.string("reference") == Self.reference)
            #expect(read["context"] == .object(["pan": .string(Self.contextValue)]))
            // The token carries the canonical destination.
            let token = try #require(approved.string("token"))
            let introspection = try await client.post("/v1/tokens/verify", #"{"token":"\#(token)"}"#)
            #expect(
                introspection["claims"].flatMap { claims -> String? in
                    if case .object(let o) = claims, case .string(let p)? = o["phone_number"] { return p }
                    return nil
                } == Self.phone)
        }
        // A second start to the same number still counts against the first: the blind index meets.
        let sms2 = try await h.engine.start(
            StartRequest(destination: Destination(unchecked: Self.phone, channel: .sms)), principal: h.principal)
        guard case .created = sms2 else { throw TestFailure("second start was not created") }
    }

    static func leaks(in bytes: Data) -> [String] {
        secrets.filter { bytes.range(of: Data($0.utf8)) != nil }
    }

    /// An unkeyed SHA-256 of the keyed start's request would let anyone confirm the destination by guessing.
    static let keyedStartBody = #"{"to":"\#(email)","channel":"email","reference":"\#(reference)"}"#
    static let unkeyedRequestHash = Data(SHA256.hash(data: Array("POST /v1/verifications\n".utf8) + Array(keyedStartBody.utf8)))

    @Test func theSQLiteFileAndItsWALHoldNoPersonalValue() async throws {
        let h = try await Harness.make(backend: .sqlite)
        try await scenario(h)
        let credentials = try await profileScenario(h)
        let path = h.directory.appendingPathComponent("otpgate.sqlite").path
        var raw = try Data(contentsOf: URL(fileURLWithPath: path))
        for suffix in ["-wal", "-shm"] { raw.append((try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data()) }
        #expect(raw.count > 4096)
        #expect(Self.leaks(in: raw) == [])
        #expect(credentials.filter { raw.range(of: Data($0.utf8)) != nil } == [])
        #expect(raw.range(of: Self.unkeyedRequestHash) == nil)
        // The check itself can find them: the same scenario's values are in the clear API answers above, and a
        // value planted in the file is found.
        #expect(Self.leaks(in: raw + Data(Self.reference.utf8)) == [Self.reference])
    }

    @Test(.enabled(if: Backend.available.contains(.postgres))) func aPgDumpHoldsNoPersonalValue() async throws {
        let h = try await Harness.make(backend: .postgres)
        try await scenario(h)
        let credentials = try await profileScenario(h)
        let dump = try pgDump(h.runtime.settings)
        #expect(dump.count > 1000)
        #expect(dump.range(of: Data("verifications".utf8)) != nil)
        #expect(Self.leaks(in: dump) == [])
        #expect(credentials.filter { dump.range(of: Data($0.utf8)) != nil } == [])
        #expect(dump.range(of: Data(Self.unkeyedRequestHash.map { String(format: "%02x", $0) }.joined().utf8)) == nil)
    }

    /// `pg_dump` of the harness's schema (its URL names it in `search_path`).
    func pgDump(_ settings: ServerSettings) throws -> Data {
        guard case .postgres(let url) = settings.database, let components = URLComponents(string: url),
            let schema = components.queryItems?.first(where: { $0.name == "search_path" })?.value
        else { throw TestFailure("not a PostgreSQL harness") }
        let bin = ProcessInfo.processInfo.environment["PG_BIN"].map { $0 + "/pg_dump" } ?? "/usr/lib/postgresql/15/bin/pg_dump"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin)
        process.arguments = [
            "-h", components.host ?? "127.0.0.1", "-p", String(components.port ?? 5432), "-U", components.user ?? "otpgate", "-n", schema,
            String(components.path.dropFirst()),
        ]
        let out = Pipe()
        process.standardOutput = out
        try ProcessLaunch.run(process)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("pg_dump exited \(process.terminationStatus)") }
        return data
    }
}
