import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// The KwikID ITR profile end to end on both backends.
@Suite(.timeLimit(.minutes(5))) struct KwikIDProfileTests {
    static let accessToken = HTTPField.Name("AccessToken")!

    @Test(arguments: Backend.available) func getOTPSubmitGetDataAndLogout(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        let token = try await h.credential("kwikid")
        try await h.test { client in
            let bad = try await client.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"wrong"}"#, key: token)
            #expect(bad.status.code == 400)
            #expect(bad.json == .object(["detail": .object([:]), "message": .string("Invalid PAN or password")]))
            let sent = try await client.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            #expect(sent.json == .object(["otp_status": .string("OTP sent")]))
            let code = try await h.lastCode()
            #expect(h.sender.messages.last?.destination == ProfileFixture.mobile)
            let soon = try await client.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            #expect(soon.status.code == 429)
            #expect(soon.json == .object(["status": .int(429), "message": .string("Rate limit exceeded")]))

            let noToken = try await client.post("/verification/v2/itr/get_data", #"{"pan":"ABCPE1234F"}"#, key: token)
            #expect(noToken.status.code == 401)
            let wrong = try await client.post(
                "/verification/v2/itr/submit_otp", #"{"pan":"ABCPE1234F","otp":"\#(wrongCode(for: code))"}"#, key: token)
            #expect(
                wrong.json
                    == .object(["detail": .object(["body": .object(["otp": .array([.string("Invalid OTP")])])]), "message": .string("Invalid OTP")]))
            let verified = try await client.post("/verification/v2/itr/submit_otp", #"{"pan":"ABCPE1234F","otp":"\#(code)"}"#, key: token)
            #expect(verified.string("otp_status") == "verified")
            let access = try #require(verified.string("AccessToken"))

            let data = try await client.post(
                "/verification/v2/itr/get_data", #"{"pan":"ABCPE1234F"}"#, key: token, headers: [Self.accessToken: access])
            #expect(data.json == .object(["itr_data": .object(["total_income": .int(1_200_000)])]))
            let forged = try await client.post(
                "/verification/v2/itr/get_data", #"{"pan":"ABCPE1234F"}"#, key: token, headers: [Self.accessToken: access + "x"])
            #expect(forged.status.code == 401)
            #expect(forged.json == .object(["detail": .object([:]), "message": .string("Invalid AccessToken")]))
            let year = try await client.post(
                "/verification/v2/itr/get_data_by_assessment_year", #"{"pan":"ABCPE1234F","year":"2024-25"}"#, key: token)
            #expect(year.json == .object(["itr_data": .object(["total_income": .int(1_300_000)])]))
            let otherYear = try await client.post(
                "/verification/v2/itr/get_data_by_assessment_year", #"{"pan":"ABCPE1234F","year":"2019-20"}"#, key: token)
            #expect(otherYear.status.code == 400)

            let out = try await client.post("/verification/v2/itr/logout", #"{"pan":"ABCPE1234F"}"#, key: token)
            #expect(out.json == .object(["status": .object(["logged_out": .bool(true)])]))
            let after = try await client.post(
                "/verification/v2/itr/get_data", #"{"pan":"ABCPE1234F"}"#, key: token, headers: [Self.accessToken: access])
            #expect(after.status.code == 400)

            // A new session sends a new OTP (nothing of the last one is replayed) and releases nothing until it is verified.
            h.clock.advance(.seconds(60))
            let before = h.sender.messages.count
            #expect(try await client.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"Portal@123"}"#, key: token).status == .ok)
            let next = try await h.lastCode()
            #expect(h.sender.messages.count == before + 1)
            let unverified = try await client.post(
                "/verification/v2/itr/get_data_by_assessment_year", #"{"pan":"ABCPE1234F","year":"2024-25"}"#, key: token)
            #expect(unverified.status.code == 401)
            #expect(try await client.post("/verification/v2/itr/submit_otp", #"{"pan":"ABCPE1234F","otp":"\#(next)"}"#, key: token).status == .ok)
        }
    }

    /// Clients that never call submit_otp send the OTP in get_data's body, as KwikID documents.
    @Test func getDataAcceptsTheOTPInItsBody() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let token = try await h.credential("kwikid")
        try await h.test { client in
            _ = try await client.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            let code = try await h.lastCode()
            let data = try await client.post("/verification/v2/itr/get_data", #"{"pan":"ABCPE1234F","otp":"\#(code)"}"#, key: token)
            #expect(data["itr_data"] != nil)
            #expect(data["AccessToken"] == nil)
            #expect(data.status == .ok)
        }
    }

    /// A get_otp after the session was verified starts it over: a new OTP is sent (the verified one is not replayed),
    /// and the earlier AccessToken ends with the session it belonged to.
    @Test func getOTPAfterVerificationStartsOver() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let token = try await h.credential("kwikid")
        try await h.test { client in
            _ = try await client.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            let code = try await h.lastCode()
            let verified = try await client.post("/verification/v2/itr/submit_otp", #"{"pan":"ABCPE1234F","otp":"\#(code)"}"#, key: token)
            let access = try #require(verified.string("AccessToken"))
            let before = h.sender.messages.count
            let again = try await client.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            #expect(again.json == .object(["otp_status": .string("OTP sent")]))
            _ = try await h.lastCode()
            #expect(h.sender.messages.count == before + 1)
            let old = try await client.post(
                "/verification/v2/itr/get_data", #"{"pan":"ABCPE1234F"}"#, key: token, headers: [Self.accessToken: access])
            #expect(old.status.code == 401)
        }
    }

    /// Concurrent get_otp calls that each find no session start one session and send one OTP (the others resend or wait).
    @Test(arguments: Backend.available) func concurrentRestartsSendOneOTP(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        let token = try await h.credential("kwikid")
        try await h.test { client in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        Int(
                            try await client.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"Portal@123"}"#, key: token).status
                                .code)
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
            await h.deliver()
            #expect(h.sender.messages.count == 1)
            let code = try await h.lastCode()
            #expect(try await client.post("/verification/v2/itr/submit_otp", #"{"pan":"ABCPE1234F","otp":"\#(code)"}"#, key: token).status == .ok)
        }
    }

    /// Before the OTP is verified, neither data call releases anything.
    @Test func dataCallsNeedAVerifiedSession() async throws {
        let h = try await Harness.make()
        try await h.importRecords()
        let token = try await h.credential("kwikid")
        try await h.test { client in
            _ = try await client.post("/verification/v2/itr/get_otp", #"{"pan":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            let year = try await client.post(
                "/verification/v2/itr/get_data_by_assessment_year", #"{"pan":"ABCPE1234F","year":"2024-25"}"#, key: token)
            #expect(year.status.code == 401)
            #expect(year["itr_data"] == nil)
        }
    }
}
