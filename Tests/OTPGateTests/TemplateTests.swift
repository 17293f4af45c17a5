import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Message templates per tenant × purpose × locale × channel: saved only when they parse and carry the code, chosen
/// by purpose and locale with fallbacks, rendered by the worker (text unescaped, HTML escaped, autofill lines, the
/// DLT template id to the gateway), isolated per tenant, on both backends.
@Suite(.timeLimit(.minutes(3))) struct TemplateTests {
    static let sms =
        #"{"body":"{{code}} is your {{brand}} {{purpose}} code. Valid {{minutes}} min. Do not share.","dlt_template_id":"1207161234567890123"}"#

    @Test func smsEncodingAndSegmentsFollowGSM0338() {
        #expect(SMSEncoding("123456 is your code") == .gsm7)
        #expect(SMSEncoding("123456 आपका कोड है") == .ucs2)
        #expect(SMSEncoding.gsm7.segments(String(repeating: "a", count: 160)) == 1)
        #expect(SMSEncoding.gsm7.segments(String(repeating: "a", count: 161)) == 2)
        #expect(SMSEncoding.gsm7.segments(String(repeating: "€", count: 80)) == 1)  // two septets each
        #expect(SMSEncoding.gsm7.segments(String(repeating: "€", count: 81)) == 2)
        #expect(SMSEncoding.ucs2.segments(String(repeating: "क", count: 70)) == 1)
        #expect(SMSEncoding.ucs2.segments(String(repeating: "क", count: 71)) == 2)
        #expect(SMSEncoding.ucs2.segments(String(repeating: "क", count: 135)) == 3)
    }

    @Test func theBestTemplateIsChosenByPurposeThenLocaleThenDefault() {
        func t(_ purpose: String, _ locale: String, _ channel: Channel = .sms) -> MessageTemplate {
            MessageTemplate(
                tenantID: "t", purpose: purpose, locale: locale, channel: channel, body: "\(purpose)/\(locale) {{code}}",
                updatedAt: Timestamp(seconds: 0))
        }
        let all = [t("login", "hi"), t("login", "en"), t("default", "hi-IN"), t("default", "en"), t("login", "en", .email)]
        #expect(all.best(purpose: "login", locale: "hi-IN", channel: .sms)?.body.hasPrefix("login/hi") == true)
        #expect(all.best(purpose: "login", locale: "HI-in", channel: .sms)?.body.hasPrefix("login/hi") == true)
        #expect(all.best(purpose: "login", locale: "ta", channel: .sms)?.body.hasPrefix("login/en") == true)
        #expect(all.best(purpose: "itr", locale: "hi-IN", channel: .sms)?.body.hasPrefix("default/hi-IN") == true)
        #expect(all.best(purpose: nil, locale: nil, channel: .sms)?.body.hasPrefix("default/en") == true)
        #expect(all.best(purpose: "itr", locale: nil, channel: .email) == nil)
    }

    @Test(arguments: Backend.available) func aSavedSMSTemplateShapesTheMessageAndCarriesItsDLTID(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_SMS_DLT_TEMPLATE_ID": "1207999999999999999"])
        try await h.test { (client: TestClient) async throws in
            let saved = try await client.call(.put, "/v1/templates/login/en/sms", json: Self.sms)
            #expect(saved.status == .ok)
            guard case .object(let preview)? = saved["preview"] else { throw TestFailure("no preview") }
            #expect(preview["text"] == .string("123456 is your OTPGate login code. Valid 10 min. Do not share."))
            #expect(preview["encoding"] == .string("GSM-7"))
            #expect(preview["segments"] == .int(1))
            let id = try await client.start(extra: #","purpose":"login","ttl_seconds":120"#)
            await h.deliver()
            let message = try #require(h.sender.messages.last { $0.verificationID == id })
            let code = String(message.text.prefix { $0.isNumber })
            #expect(message.text == "\(code) is your OTPGate login code. Valid 2 min. Do not share.")
            #expect(message.dltTemplateID == "1207161234567890123")
            // Another purpose has no template: the built-in wording, under the built-in text's DLT id.
            let other = try await client.start(to: "+919876543219", extra: #","purpose":"kyc""#)
            await h.deliver()
            let builtIn = try #require(h.sender.messages.last { $0.verificationID == other })
            #expect(builtIn.text.contains("is your OTPGate kyc verification code"))
            #expect(builtIn.dltTemplateID == "1207999999999999999")
            // A template without an id of its own never borrows the built-in text's.
            _ = try await client.call(.put, "/v1/templates/kyc/en/sms", json: #"{"body":"{{code}} kyc"}"#)
            h.clock.advance(.seconds(6))  // past the worker's template cache
            let third = try await client.start(to: "+919876543216", extra: #","purpose":"kyc""#)
            await h.deliver()
            #expect(h.sender.messages.last { $0.verificationID == third }?.dltTemplateID == nil)
            #expect(try await client.check(id, code).string("status") == "approved")
        }
    }

    @Test func aHindiTemplateIsChosenForTheLocaleAndCountsUCS2Segments() async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            let saved = try await client.call(
                .put, "/v1/templates/default/hi/sms", json: #"{"body":"{{code}} आपका {{brand}} ओटीपी है। इसे किसी से साझा न करें।"}"#)
            guard case .object(let preview)? = saved["preview"] else { throw TestFailure("no preview") }
            #expect(preview["encoding"] == .string("UCS-2"))
            #expect(preview["segments"] == .int(1))
            let id = try await client.start(extra: #","locale":"hi-IN""#)
            await h.deliver()
            let message = try #require(h.sender.messages.last { $0.verificationID == id })
            #expect(message.text.hasSuffix("आपका OTPGate ओटीपी है। इसे किसी से साझा न करें।"))
        }
    }

    @Test func autofillLinesEndTheMessage() async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            #expect(
                try await client.call(.put, "/v1/templates/login/en/sms", json: #"{"body":"{{code}} is your code","webotp_domain":"bank.example"}"#)
                    .status == .ok)
            #expect(
                try await client.call(.put, "/v1/templates/app/en/sms", json: #"{"body":"{{code}} is your code","android_app_hash":"FA+9qCX9VSu"}"#)
                    .status == .ok)
            let web = try await client.start(extra: #","purpose":"login""#)
            let app = try await client.start(to: "+919876543218", extra: #","purpose":"app""#)
            await h.deliver()
            let webText = try #require(h.sender.messages.last { $0.verificationID == web }?.text)
            let code = String(webText.prefix { $0.isNumber })
            #expect(webText == "\(code) is your code\n\n@bank.example #\(code)")
            #expect(h.sender.messages.last { $0.verificationID == app }?.text.hasSuffix("\n\nFA+9qCX9VSu") == true)
        }
    }

    @Test func anEmailTemplateEscapesHTMLButNotText() async throws {
        let h = try await Harness.make(environment: ["OTPGATE_BRAND": "Tom & Jerry <Bank>"])
        try await h.test { (client: TestClient) async throws in
            let body = #"{"body":"{{code}} from {{brand}}","subject":"{{brand}} code","html":"<p>{{code}} from {{brand}}</p>"}"#
            #expect(try await client.call(.put, "/v1/templates/default/en/email", json: body).status == .ok)
            let started = try await client.post("/v1/verifications", #"{"to":"a@example.com","channel":"email"}"#)
            let id = try #require(started.string("id"))
            await h.deliver()
            let message = try #require(h.sender.messages.last { $0.verificationID == id })
            #expect(message.subject == "Tom & Jerry <Bank> code")
            #expect(message.text.hasSuffix(" from Tom & Jerry <Bank>"))
            #expect(message.html?.hasSuffix(" from Tom &amp; Jerry &lt;Bank&gt;</p>") == true)
        }
    }

    @Test(arguments: [
        (#"{"body":"Your code is ready"}"#, "body"),  // no code
        (#"{"body":"{{#code}}unclosed"}"#, "body"),  // does not parse
        (#"{"body":"{{code}}","subject":"S"}"#, "subject"),  // email-only on SMS
        (#"{"body":"{{code}}","dlt_template_id":"12ab"}"#, "dlt_template_id"),
        (#"{"body":"{{code}}","android_app_hash":"short"}"#, "android_app_hash"),
        (#"{"body":"{{code}}","webotp_domain":"bank.example","android_app_hash":"FA+9qCX9VSu"}"#, "webotp_domain"),
        (#"{"body":"{{code}}","colour":"red"}"#, "colour"),
        (#"{"body":""}"#, "body"),
        (#"{"body":"Your code","webotp_domain":"bank.example"}"#, "body"),  // the autofill line alone does not count
    ])
    func invalidTemplatesAreRefusedNamingTheField(json: String, field: String) async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            let refused = try await client.call(.put, "/v1/templates/login/en/sms", json: json)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.string("field") == field)
            #expect(try await client.get("/v1/templates")["templates"] == .array([]))
        }
    }

    @Test func anEmailTemplateWithoutTheCodeInItsHTMLIsRefused() async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            let refused = try await client.call(.put, "/v1/templates/login/en/email", json: #"{"body":"{{code}}","html":"<p>hello</p>"}"#)
            #expect(refused.string("field") == "html")
            #expect(try await client.call(.put, "/v1/templates/login/xx_YY/email", json: #"{"body":"{{code}}"}"#).string("field") == "locale")
            #expect(try await client.call(.put, "/v1/templates/login/en/fax", json: #"{"body":"{{code}}"}"#).string("field") == "channel")
        }
    }

    @Test(arguments: Backend.available) func templatesAreListedReadDeletedAndIsolatedPerTenant(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let other = try await h.makeTenant("other")
        try await h.test { (client: TestClient) async throws in
            #expect(try await client.call(.put, "/v1/templates/login/en/sms", json: Self.sms).status == .ok)
            #expect(try await client.call(.put, "/v1/templates/login/en/sms", json: #"{"body":"{{code}} v2"}"#).status == .ok)
            guard case .array(let listed)? = try await client.get("/v1/templates")["templates"] else { throw TestFailure("no list") }
            #expect(listed.count == 1)
            let read = try await client.get("/v1/templates/login/en/sms")
            #expect(read.string("body") == "{{code}} v2")
            #expect(read["dlt_template_id"] == nil)
            // Another tenant sees none of it and cannot delete it.
            #expect(try await client.get("/v1/templates", key: other.apiKey)["templates"] == .array([]))
            #expect(try await client.get("/v1/templates/login/en/sms", key: other.apiKey).status == .notFound)
            #expect(try await client.call(.delete, "/v1/templates/login/en/sms", key: other.apiKey).status == .notFound)
            #expect(try await client.call(.delete, "/v1/templates/login/en/sms").status == .noContent)
            #expect(try await client.get("/v1/templates/login/en/sms").status == .notFound)
        }
    }

    @Test func aChangedTemplateReachesTheWorkerWithinTheCacheTime() async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            _ = try await client.call(.put, "/v1/templates/default/en/sms", json: #"{"body":"{{code}} first"}"#)
            _ = try await client.start()
            await h.deliver()
            _ = try await client.call(.put, "/v1/templates/default/en/sms", json: #"{"body":"{{code}} second"}"#)
            h.clock.advance(.seconds(6))
            let id = try await client.start(to: "+919876543217")
            await h.deliver()
            #expect(h.sender.messages.last { $0.verificationID == id }?.text.hasSuffix(" second") == true)
        }
    }
}
