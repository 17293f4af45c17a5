import Foundation
import HTTPTypes
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Issue 16's send budgets: messages per channel and money per UTC day and month, spent atomically in the store,
/// refused past the limit with 429 `budget_exhausted`, a `budget.warning` webhook event at 80 %.
@Suite(.timeLimit(.minutes(3))) struct BudgetTests {
    @Test(arguments: Backend.available) func messageBudgetsCountStartsAndResendsPerDayAndMonth(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend,
            environment: [
                "OTPGATE_POLICY_SMS_PER_DAY": "5", "OTPGATE_POLICY_EMAIL_PER_MONTH": "3", "OTPGATE_POLICY_STARTS_PER_DESTINATION": "1",
                "OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS": "0",
            ])
        let other = try await h.makeTenant("other")
        try await h.test { (client: TestClient) async throws in
            #expect(try await client.call(.put, "/v1/webhook", json: #"{"url":"http://127.0.0.1:9/hooks"}"#).status == .created)
            func sms(_ n: Int, key: String?? = .none) async throws -> APIResponse {
                try await client.post("/v1/verifications", #"{"to":"+9198765000\#(String(format: "%02d", n))","channel":"sms"}"#, key: key)
            }
            let first = try await sms(1)
            #expect(first.status == .created)
            let second = try #require(try await sms(2).string("id"))
            await h.deliver()
            #expect(try await client.check(second, try #require(h.sender.code(for: second))).status == .ok)
            // Refused after it was charged (the destination's own limit): the budget is given back.
            #expect(try await sms(2).status == .tooManyRequests)
            // A resend is a send too.
            let id = try #require(first.string("id"))
            #expect(try await client.post("/v1/verifications/\(id)/resend").status == .ok)
            #expect(try await sms(3).status == .created)  // the 4th of 5: 80 %
            #expect(try await sms(4).status == .created)
            let spent = try await sms(5)
            #expect(spent.status == .tooManyRequests)
            #expect(spent.string("type")?.hasSuffix("budget_exhausted") == true)
            // Until UTC midnight (the clock starts at 2027-01-15T08:00:00Z).
            #expect(spent.headers[.retryAfter] == String(1_800_057_600 - 1_800_000_000))
            #expect(try await client.post("/v1/verifications/\(id)/resend").string("type")?.hasSuffix("budget_exhausted") == true)
            // A spent budget never hides a resend's own refusal.
            #expect(try await client.post("/v1/verifications/\(second)/resend").problemCode == "already_approved")
            // Another tenant spends from its own budget.
            #expect(try await sms(6, key: .some(other.apiKey)).status == .created)

            // Email has its own, monthly, budget.
            for i in 0..<3 {
                #expect(try await client.post("/v1/verifications", #"{"to":"u\#(i)@example.com","channel":"email"}"#).status == .created)
            }
            let mails = try await client.post("/v1/verifications", #"{"to":"u9@example.com","channel":"email"}"#)
            #expect(mails.headers[.retryAfter] == String(1_801_440_000 - 1_800_000_000))

            // One warning per budget and period, in the tenant's webhook events; the refusals are counted.
            let warnings = try await h.store.webhookEvents(tenantID: h.tenant.id, limit: 100).filter { $0.type == .budgetWarning }
            #expect(Set(warnings.map(\.id)) == ["budget_sms_per_day_1800057600.budget.warning", "budget_email_per_month_1801440000.budget.warning"])
            let body = String(decoding: try #require(warnings.first { $0.id.contains("sms") }).body, as: UTF8.self)
            #expect(body.contains(#""budget":"sms_per_day""#) && body.contains(#""limit":5"#) && !body.contains("verification_id"))
            #expect(h.metricsText.contains(#"otpgate_starts_refused_total{reason="budget_exhausted"} 3"#))
            #expect(h.metricsText.contains(#"otpgate_budget_warnings_total{budget="sms_per_day"} 1"#))

            // The next UTC day the daily budget starts over (a sweep in between drops the ended period's total).
            h.clock.advance(.seconds(57_600))
            await h.runtime.sweeper.sweepOnce()
            #expect(try await sms(7).status == .created)
        }
    }

    @Test func moneyBudgetsPriceEachMessageByTheLongestPrefix() async throws {
        let dir = try temporaryDirectory()
        let table = dir.appendingPathComponent("prices.txt")
        try """
        # test prices
        currency INR
        sms +91    0.25
        sms +9170  2.50   # premium
        email *    0.01
        """.write(to: table, atomically: true, encoding: .utf8)
        let h = try await Harness.make(environment: ["OTPGATE_PRICE_TABLE": table.path, "OTPGATE_POLICY_SPEND_PER_DAY": "5.5"])
        let unlimited = try await h.makeTenant("unlimited")
        var overrides = PolicyOverrides()
        overrides.spendPerDayMicros = 0
        #expect(try await h.store.updateTenantPolicy(id: unlimited.tenant.id, overrides: overrides))
        try await h.test { (client: TestClient) async throws in
            func start(_ to: String, key: String?? = .none) async throws -> HTTPResponse.Status {
                try await client.post("/v1/verifications", #"{"to":"\#(to)","channel":"sms"}"#, key: key).status
            }
            #expect(try await start("+917000000001") == .created)  // 2.50
            #expect(try await start("+917000000002") == .created)  // 5.00
            #expect(try await start("+917000000003") == .tooManyRequests)  // 7.50 > 5.50
            #expect(try await start("+919800000001") == .created)  // 5.25
            #expect(try await start("+919800000002") == .created)  // 5.50: exactly the limit
            #expect(try await start("+919800000003") == .tooManyRequests)
            // 0 lifts the deployment's limit for one tenant.
            for i in 0..<4 { #expect(try await start("+91700000001\(i)", key: .some(unlimited.apiKey)) == .created) }
        }
    }

    @Test func priceTablesBudgetSettingsAndPeriodsAreChecked() throws {
        let table = try PriceTable(parsing: "currency USD\nsms +1 0.0075\nsms +1415 0.02\n\n# comment\nsms * 0.5\nemail @example.com 0.001\n")
        #expect(table.currency == "USD")
        #expect(table.micros(for: Destination(unchecked: "+14155550123", channel: .sms)) == 20_000)
        #expect(table.micros(for: Destination(unchecked: "+12125550123", channel: .sms)) == 7_500)
        #expect(table.micros(for: Destination(unchecked: "+447911123456", channel: .sms)) == 500_000)
        #expect(table.micros(for: Destination(unchecked: "a@example.com", channel: .email)) == 1_000)
        #expect(table.micros(for: Destination(unchecked: "a@example.org", channel: .email)) == 0)
        for (bad, line) in [
            ("sms 91 0.1", 1), ("fax * 1", 1), ("sms * 1.1234567", 1), ("sms * -1", 1), ("currency inr", 1), ("sms * 1\nsms * 2", 2),
            ("sms * .5", 1), ("sms * 1.", 1), ("sms +91", 1),
        ] {
            #expect(throws: PriceTable.ParseError.self, "\(bad)") { try PriceTable(parsing: bad) }
            do { _ = try PriceTable(parsing: bad) } catch { #expect(error.line == line, "\(bad)") }
        }
        #expect(PriceTable.decimal(2_500_000) == "2.50" && PriceTable.decimal(7_500) == "0.0075")
        #expect(throws: (any Error).self) { try ServerSettings(environment: ["OTPGATE_POLICY_SPEND_PER_DAY": "100"]) }
        #expect(throws: (any Error).self) {
            try ServerSettings(environment: ["OTPGATE_POLICY_SPEND_PER_DAY": "100", "OTPGATE_PRICE_TABLE": "/nonexistent/prices.txt"])
        }
        #expect(throws: (any Error).self) { try ServerSettings(environment: ["OTPGATE_POLICY_SMS_PER_DAY": "-1"]) }
        #expect(try ServerSettings(environment: ["OTPGATE_POLICY_SMS_PER_DAY": "0"]).policy.budgets.isSet == false)
        // Periods end at UTC midnight and on the first of the next month, leap years and year ends included.
        func monthEnd(_ seconds: Int64) -> Int64 { SendBudget.windowEnd(.month, now: Timestamp(seconds: seconds)) }
        #expect(monthEnd(1_800_000_000) == 1_801_440_000)  // 2027-01-15 → 2027-02-01
        #expect(monthEnd(1_708_000_000) == 1_709_251_200)  // 2024-02-15 → 2024-03-01 (leap year)
        #expect(monthEnd(951_700_000) == 951_868_800)  // 2000-02-28 → 2000-03-01
        #expect(monthEnd(1_735_000_000) == 1_735_689_600)  // 2024-12-24 → 2025-01-01
        #expect(SendBudget.windowEnd(.day, now: Timestamp(seconds: 1_800_000_000)) == 1_800_057_600)
    }
}
