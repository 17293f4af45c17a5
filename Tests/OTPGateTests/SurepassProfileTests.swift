import Foundation
import HTTPTypes
import OTPGateCore
import Synchronization
import Testing

@testable import OTPGateServer

/// The Surepass profile end to end on both backends, with the code read from the delivered message: every request
/// and response example of the seeds and vendor-apis.md §1–2 that this profile serves, and their documented errors.
@Suite(.timeLimit(.minutes(5))) struct SurepassProfileTests {
    static func setUp(_ backend: Backend) async throws -> (Harness, String) {
        let h = try await Harness.make(backend: backend)
        try await h.importRecords()
        return (h, try await h.credential("surepass"))
    }

    @Test(arguments: Backend.available) func itrSessionTwoFactorAndDataCalls(backend: Backend) async throws {
        let (h, token) = try await Self.setUp(backend)
        try await h.test { client in
            let wrong = try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"nope"}"#, key: token)
            #expect(wrong.status.code == 422)
            #expect(wrong.json == surepassFailure(422, "invalid_credentials", "Invalid username or password."))
            // `pan` is what some clients send instead of `username`; the PAN's case does not matter.
            let created = try await client.post("/api/v1/itr/create-client", #"{"pan":"abcpe1234f","password":"Portal@123"}"#, key: token)
            #expect(created.status == .ok)
            let clientID = try #require(created.dataString("client_id"))
            #expect(clientID.hasPrefix("itr_") && clientID.count == 24 && clientID.dropFirst(4).allSatisfy { $0.isLetter && $0.isASCII })
            #expect(created.json == surepassSuccess(.object(["client_id": .string(clientID)]), message: "Client created successfully"))
            let body = #"{"client_id":"\#(clientID)"}"#

            // No data before 2FA.
            let early = try await client.post("/api/v1/itr/download-itrv", body, key: token)
            #expect(early.status.code == 403)
            #expect(early["message_code"] == .string("2fa_not_completed"))

            let sent = try await client.post("/api/v1/itr/generate-2fa", body, key: token)
            #expect(sent.json == surepassSuccess(.object(["otp_sent": .bool(true)]), message: "OTP Sent"))
            let code = try await h.lastCode()
            #expect(h.sender.messages.last?.destination == ProfileFixture.mobile)

            let bad = try await client.post("/api/v1/itr/submit-2fa", #"{"client_id":"\#(clientID)","otp":"\#(wrongCode(for: code))"}"#, key: token)
            #expect(bad.status.code == 422)
            #expect(bad.json == surepassFailure(422, "invalid_otp", "The OTP entered is invalid. Please check and try again."))
            let ok = try await client.post("/api/v1/itr/submit-2fa", #"{"client_id":"\#(clientID)","otp":"\#(code)"}"#, key: token)
            #expect(ok.json == surepassSuccess(.object(["logged_in": .bool(true)]), message: "Logged In Successfully"))
            let reused = try await client.post("/api/v1/itr/submit-2fa", #"{"client_id":"\#(clientID)","otp":"\#(code)"}"#, key: token)
            #expect(reused.status.code == 422)
            #expect(reused["message_code"] == .string("otp_already_used"))

            #expect(
                try await client.post("/api/v1/itr/check-credentials", body, key: token).json == surepassSuccess(.object(["success": .bool(true)])))
            let details = try await client.get("/api/v1/itr/itr-details/\(clientID)?itr_id=2", key: token)
            #expect(details.dataString("itr_type") == "ITR-2")
            #expect(details.dataString("client_id") == clientID)
            #expect(
                try await client.post("/api/v1/itr/itr-details", #"{"client_id":"\#(clientID)","itr_id":1}"#, key: token).dataString("itr_type")
                    == "ITR-1")
            let missing = try await client.get("/api/v1/itr/itr-details/\(clientID)?itr_id=9", key: token)
            #expect(missing.status.code == 404)
            let itrv = try await client.post("/api/v1/itr/download-itrv", body, key: token)
            #expect(itrv.data("filed_itrv") == .array([.object(["filing_year": .string("2024"), "acknowledgement_no": .string("123")])]))
            #expect(itrv.dataString("pan_no") == ProfileFixture.pan)
            let form = try await client.post("/api/v1/itr/download-itr-form", body, key: token)
            #expect(form.data("filed_itr_form") != nil)
            for path in ["/api/v1/itr/download-ais-v2", "/api/v1/itr/get-ais"] {
                let ais = try await client.post(path, #"{"client_id":"\#(clientID)","financial_year":"2023-24"}"#, key: token)
                #expect(ais.dataString("status") == "completed")
                #expect(ais.dataString("ais_file") == "https://files.example/ais.pdf")
            }
            let profile = try await client.post("/api/v1/itr/get-profile-details", body, key: token)
            #expect(profile.data("profile_details") == .object(["name": .string("Asha Example"), "pan": .string("ABCPE1234F")]))
        }
    }

    @Test(arguments: Backend.available) func unknownAndExpiredClientIDsGetEachEndpointsDocumentedError(backend: Backend) async throws {
        let (h, token) = try await Self.setUp(backend)
        try await h.test { client in
            let seed404 = surepassFailure(404, nil, "Client with given Client ID not found.")
            let unknown = #"{"client_id":"itr_GphpGlzxZOficAventBk"}"#
            let generate = try await client.post("/api/v1/itr/generate-2fa", unknown, key: token)
            #expect(generate.status.code == 404)
            #expect(generate.json == seed404)
            #expect(
                try await client.post("/api/v1/itr/submit-2fa", #"{"client_id":"itr_GphpGlzxZOficAventBk","otp":"156519"}"#, key: token).json
                    == seed404)
            let check = try await client.post("/api/v1/itr/check-credentials", unknown, key: token)
            #expect(check.status.code == 400)
            #expect(
                check.json
                    == surepassFailure(400, "invalid_client_id", "The provided client ID does not exist", data: .object(["success": .bool(false)])))
            let ais = try await client.post("/api/v1/itr/get-ais", #"{"client_id":"itr_x","financial_year":"2022-23"}"#, key: token)
            #expect(ais.json == surepassFailure(400, "invalid_client_id", "Invalid client_id provided"))

            // A client_id lives for the configured window (default 1800 s), then answers like an unknown one.
            let created = try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            let clientID = try #require(created.dataString("client_id"))
            h.clock.advance(.seconds(1801))
            #expect(try await client.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(clientID)"}"#, key: token).json == seed404)
            // A shorter `expiry` (seconds) shortens it.
            let short = try await client.post(
                "/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123","expiry":120}"#, key: token)
            let shortID = try #require(short.dataString("client_id"))
            h.clock.advance(.seconds(121))
            #expect(try await client.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(shortID)"}"#, key: token).json == seed404)
        }
    }

    @Test(arguments: Backend.available) func passwordResetWithTheOTP(backend: Backend) async throws {
        let (h, token) = try await Self.setUp(backend)
        try await h.test { client in
            let created = try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            let clientID = try #require(created.dataString("client_id"))
            let weak = try await client.post("/api/v1/itr/forget-password", #"{"client_id":"\#(clientID)","password":"short"}"#, key: token)
            #expect(weak.json == surepassFailure(400, "error", "Password does not meet complexity requirements"))
            let sent = try await client.post("/api/v1/itr/forget-password", #"{"client_id":"\#(clientID)","password":"New@Pass99"}"#, key: token)
            #expect(sent.json == surepassSuccess(.object(["otp_sent": .bool(true)]), message: "OTP Sent"))
            let code = try await h.lastCode()
            let bad = try await client.post("/api/v1/itr/submit-otp", #"{"otp":"\#(wrongCode(for: code))","client_id":"\#(clientID)"}"#, key: token)
            #expect(
                bad.json
                    == surepassFailure(
                        400, "invalid_otp", "The OTP provided is invalid or has expired", data: .object(["password_reset": .bool(false)])))
            let ok = try await client.post("/api/v1/itr/submit-otp", #"{"otp":"\#(code)","client_id":"\#(clientID)"}"#, key: token)
            #expect(ok.json == surepassSuccess(.object(["password_reset": .bool(true)]), message: "Password reset successful"))
            #expect(
                try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: token).status.code
                    == 422)
            #expect(
                try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"New@Pass99"}"#, key: token).status == .ok)

            // A second reset on the same client_id is a new OTP: the approved first one does not carry over.
            h.clock.advance(.seconds(60))
            let before = h.sender.messages.count
            let again = try await client.post("/api/v1/itr/forget-password", #"{"client_id":"\#(clientID)","password":"Other@Pass77"}"#, key: token)
            #expect(again.status == .ok)
            let second = try await h.lastCode()
            #expect(h.sender.messages.count == before + 1)
            let guessed = try await client.post(
                "/api/v1/itr/submit-otp", #"{"otp":"\#(wrongCode(for: second))","client_id":"\#(clientID)"}"#, key: token)
            #expect(guessed["message_code"] == .string("invalid_otp"))
            let stale = try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Other@Pass77"}"#, key: token)
            #expect(stale.status.code == 422)
        }
    }

    @Test func aPasslibPBKDF2HashAndAnEmailContactWork() async throws {
        let (h, token) = try await Self.setUp(.sqlite)
        try await h.test { client in
            let created = try await client.post("/api/v1/itr/create-client", #"{"username":"BCDPE2345G","password":"Portal@456"}"#, key: token)
            let clientID = try #require(created.dataString("client_id"))
            _ = try await client.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(clientID)"}"#, key: token)
            _ = try await h.lastCode()
            #expect(h.sender.messages.last?.destination == "ravi.example@example.com")
        }
    }

    @Test(arguments: Backend.available) func ckycV2SearchGenerateOTPAndDownload(backend: Backend) async throws {
        let (h, token) = try await Self.setUp(backend)
        try await h.test { client in
            let search = try await client.post("/api/v1/ckyc/search", #"{"id_number":"ABCPE1234F","document_type":"PAN"}"#, key: token)
            let searchID = try #require(search.dataString("client_id"))
            #expect(searchID.hasPrefix("ckyc_") && searchID.count == 25)
            #expect(search.data("ckyc_search_data")?.member("ckyc_id") == .string(ProfileFixture.ckyc))
            // Found by another of its documents too.
            #expect(try await client.post("/api/v1/ckyc/search", #"{"id_number":"xyz 1234567","document_type":"VOTER"}"#, key: token).status == .ok)
            let none = try await client.post("/api/v1/ckyc/search", #"{"id_number":"ZZZZZ9999Z","document_type":"PAN"}"#, key: token)
            #expect(none.status.code == 422)

            let mismatch = try await client.post(
                "/api/v1/ckyc-v2/generate-otp", #"{"client_id":"\#(searchID)","mobile_number":"8939809876"}"#, key: token)
            #expect(mismatch.json == surepassFailure(422, "mobile_number_not_matched", "Mobile Number not matched with CKYC."))
            let noMobileSearch = try await client.post(
                "/api/v1/ckyc/search", #"{"id_number":"22345678901234","document_type":"CKYC_NUMBER"}"#, key: token)
            let noMobile = try await client.post(
                "/api/v1/ckyc-v2/generate-otp", #"{"client_id":"\#(noMobileSearch.dataString("client_id") ?? "")","mobile_number":"9000000002"}"#,
                key: token)
            #expect(noMobile["message_code"] == .string("mobile_does_not_exist_ckyc"))
            #expect(noMobile.status.code == 422)
            let unregisteredSearch = try await client.post("/api/v1/ckyc/search", #"{"id_number":"DEFPE4567J","document_type":"PAN"}"#, key: token)
            let unregistered = try await client.post(
                "/api/v1/ckyc-v2/generate-otp",
                #"{"client_id":"\#(unregisteredSearch.dataString("client_id") ?? "")","mobile_number":"9000000003"}"#, key: token)
            #expect(unregistered["message_code"] == .string("mobile_not_registered"))

            let generated = try await client.post(
                "/api/v1/ckyc-v2/generate-otp", #"{"client_id":"\#(searchID)","mobile_number":"9000000002"}"#, key: token)
            let downloadID = try #require(generated.dataString("client_id"))
            #expect(downloadID.hasPrefix("ckyc_download_") && downloadID.count == 34)
            #expect(generated.json == surepassSuccess(.object(["client_id": .string(downloadID), "otp_sent": .bool(true)])))
            _ = try await h.lastCode()
            #expect(h.sender.messages.last?.destination == "+919000000002")
            // Asking again for the same search resends that OTP under the same download id, after its cooldown.
            let soon = try await client.post(
                "/api/v1/ckyc-v2/generate-otp", #"{"client_id":"\#(searchID)","mobile_number":"9000000002"}"#, key: token)
            #expect(soon.status.code == 429)
            #expect(soon["message_code"] == .string("otp_resend_too_soon"))
            h.clock.advance(.seconds(31))
            let resent = try await client.post(
                "/api/v1/ckyc-v2/generate-otp", #"{"client_id":"\#(searchID)","mobile_number":"9000000002"}"#, key: token)
            #expect(resent.dataString("client_id") == downloadID)
            let code = try await h.lastCode()
            let bad = try await client.post(
                "/api/v1/ckyc-v2/download", #"{"client_id":"\#(downloadID)","otp":"\#(wrongCode(for: code))"}"#, key: token)
            #expect(bad["message_code"] == .string("invalid_otp"))
            let download = try await client.post("/api/v1/ckyc-v2/download", #"{"client_id":"\#(downloadID)","otp":"\#(code)"}"#, key: token)
            #expect(download.status == .ok)
            #expect(download.dataString("ckyc_search_client_id") == searchID)
            #expect(download.dataString("dob") == "1990-01-01")
            #expect(download.data("ckyc_download_data")?.member("personal_identifiable_data") != nil)
            let again = try await client.post("/api/v1/ckyc-v2/download", #"{"client_id":"\#(downloadID)","otp":"\#(code)"}"#, key: token)
            #expect(again.status.code == 422)

            // After a download, the same search gets a new download id and OTP; an expired one is replaced the same way.
            let second = try await client.post(
                "/api/v1/ckyc-v2/generate-otp", #"{"client_id":"\#(searchID)","mobile_number":"9000000002"}"#, key: token)
            let secondID = try #require(second.dataString("client_id"))
            #expect(secondID != downloadID && secondID.hasPrefix("ckyc_download_"))
            _ = try await h.lastCode()
            h.clock.advance(.seconds(301))
            let third = try await client.post(
                "/api/v1/ckyc-v2/generate-otp", #"{"client_id":"\#(searchID)","mobile_number":"9000000002"}"#, key: token)
            let thirdID = try #require(third.dataString("client_id"))
            #expect(thirdID != secondID)
            let thirdCode = try await h.lastCode()
            let expiredOne = try await client.post("/api/v1/ckyc-v2/download", #"{"client_id":"\#(secondID)","otp":"\#(thirdCode)"}"#, key: token)
            #expect(expiredOne.status.code == 422)
            let done = try await client.post("/api/v1/ckyc-v2/download", #"{"client_id":"\#(thirdID)","otp":"\#(thirdCode)"}"#, key: token)
            #expect(done.status == .ok)
        }
    }

    @Test(arguments: Backend.available) func ckycV3InitiateResendAndDownload(backend: Backend) async throws {
        let (h, token) = try await Self.setUp(backend)
        try await h.test { client in
            let search = try await client.post("/api/v1/ckyc/v3/search/individual", #"{"id_type":"PAN","id_number":"abcpe-1234f"}"#, key: token)
            #expect(search.data("record_count") == .int(1))
            guard case .array(let records)? = search.data("records"), let first = records.first else { throw TestFailure("no records") }
            #expect(first.member("ckyc_identifier") == .string(ProfileFixture.ckyc))
            let byMobile = try await client.post(
                "/api/v1/ckyc/v3/search/individual", #"{"id_type":"mobile_number","id_number":"9000000002"}"#, key: token)
            #expect(byMobile.data("record_count") == .int(1))
            let none = try await client.post("/api/v1/ckyc/v3/search/individual", #"{"id_type":"pan","id_number":"ZZZZZ9999Z"}"#, key: token)
            #expect(none.data("record_count") == .int(0))

            let initiated = try await client.post(
                "/api/v1/ckyc/v3/download/individual/initiate", #"{"ckyc_identifier":"12345678901234","mobile_number":"9000000002"}"#, key: token)
            #expect(initiated.dataString("status") == "otp_sent")
            let requestID = try #require(initiated.dataString("request_id"))
            #expect(requestID.count == 8 && requestID.allSatisfy(\.isNumber))
            let firstCode = try await h.lastCode()

            let soon = try await client.post("/api/v1/ckyc/v3/download/individual", #"{"request_id":"\#(requestID)","resend":true}"#, key: token)
            #expect(soon.status.code == 429)
            #expect(soon["message_code"] == .string("otp_resend_too_soon"))
            #expect(soon.headers[.retryAfter] == "30")
            h.clock.advance(.seconds(31))
            let resent = try await client.post("/api/v1/ckyc/v3/download/individual", #"{"request_id":"\#(requestID)","resend":true}"#, key: token)
            #expect(resent.dataString("status") == "otp_resent")
            let code = try await h.lastCode()
            #expect(code != firstCode || h.sender.messages.count >= 2)

            let both = try await client.post(
                "/api/v1/ckyc/v3/download/individual", #"{"request_id":"\#(requestID)","otp":"\#(code)","resend":true}"#, key: token)
            #expect(both.status.code == 422)
            let neither = try await client.post("/api/v1/ckyc/v3/download/individual", #"{"request_id":"\#(requestID)"}"#, key: token)
            #expect(neither.status.code == 422)
            let tooLong = try await client.post("/api/v1/ckyc/v3/download/individual", #"{"request_id":"123456789","otp":"123456"}"#, key: token)
            #expect(tooLong.status.code == 422)
            let done = try await client.post("/api/v1/ckyc/v3/download/individual", #"{"request_id":"\#(requestID)","otp":"\#(code)"}"#, key: token)
            #expect(done.dataString("status") == "downloaded")
            #expect(done.data("ckyc_download_data") != nil)
        }
    }

    /// Wrong OTPs guessed concurrently are counted exactly, as on the native API: of 20 concurrent wrong submits exactly
    /// `max_attempts` (5) are told the OTP is invalid, the rest that attempts are spent, and the right code is refused after.
    @Test(arguments: Backend.available) func concurrentWrongOTPsAreCountedExactly(backend: Backend) async throws {
        let (h, token) = try await Self.setUp(backend)
        try await h.test { client in
            let created = try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            let clientID = try #require(created.dataString("client_id"))
            _ = try await client.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(clientID)"}"#, key: token)
            let code = try await h.lastCode()
            let wrong = wrongCode(for: code)
            let codes = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let r = try await client.post("/api/v1/itr/submit-2fa", #"{"client_id":"\#(clientID)","otp":"\#(wrong)"}"#, key: token)
                        if case .string(let c)? = r["message_code"] { return c }
                        return "?"
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(codes.filter { $0 == "invalid_otp" }.count == 5)
            #expect(codes.filter { $0 == "max_attempts_exceeded" }.count == 15)
            let right = try await client.post("/api/v1/itr/submit-2fa", #"{"client_id":"\#(clientID)","otp":"\#(code)"}"#, key: token)
            #expect(right["message_code"] == .string("max_attempts_exceeded"))
        }
    }

    /// Two generate-2fa calls racing on a new client_id make one verification and send one OTP; the second is a resend
    /// (its cooldown in Surepass's envelope) or a replay.
    @Test(arguments: Backend.available) func concurrentFirstSendsMakeOneOTP(backend: Backend) async throws {
        let (h, token) = try await Self.setUp(backend)
        try await h.test { client in
            let created = try await client.post("/api/v1/itr/create-client", #"{"username":"ABCPE1234F","password":"Portal@123"}"#, key: token)
            let clientID = try #require(created.dataString("client_id"))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await client.post("/api/v1/itr/generate-2fa", #"{"client_id":"\#(clientID)"}"#, key: token).status.code }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })
            #expect(statuses.contains(200))
            await h.deliver()
            #expect(h.sender.messages.count == 1)
        }
    }
}
