import NIOCore
import HummingbirdTesting
import HTTPTypes
import Foundation
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Concurrency is part of correctness: N concurrent requests are counted exactly, never lost or double-counted.
@Suite struct ConcurrencyTests {
    @Test(arguments: Backend.available) func concurrentWrongChecksCountExactlyMaxAttempts(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "100000"])
        let principal = try await h.principal(for: h.apiKey)
        guard case .created(let v) = try await h.engine.start(StartRequest(destination: .init(unchecked: "+919876543210", channel: .sms)), principal: principal)
        else { throw TestFailure("not created") }
        await h.deliver()
        let code = try #require(h.sender.code(for: v.id))
        let wrong = code == "000000" ? "111111" : "000000"
        let outcomes = await withTaskGroup(of: String.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    do {
                        _ = try await h.engine.check(id: v.id, code: wrong, principal: principal)
                        return "approved"
                    } catch let error as VerificationError {
                        switch error {
                        case .incorrectCode: return "incorrect"
                        case .maxAttemptsReached: return "max"
                        default: return "\(error)"
                        }
                    } catch { return "\(error)" }
                }
            }
            var all: [String] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.filter { $0 == "incorrect" }.count == 5)
        #expect(outcomes.filter { $0 == "max" }.count == 95)
        await #expect(throws: VerificationError.maxAttemptsReached) { _ = try await h.engine.check(id: v.id, code: code, principal: principal) }
        #expect(try await h.store.verification(id: v.id, tenantID: h.tenant.id, admission: nil).attempts == 5)
    }

    @Test(arguments: Backend.available) func concurrentStartsToOneDestinationAdmitExactlyTheLimit(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "100000"])
        let principal = try await h.principal(for: h.apiKey)
        let created = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    let result = try? await h.engine.start(StartRequest(destination: .init(unchecked: "+919876543210", channel: .sms)), principal: principal)
                    if case .created? = result { return true }
                    return false
                }
            }
            var count = 0
            for await ok in group where ok { count += 1 }
            return count
        }
        #expect(created == 5)
        await h.deliver()
        #expect(h.sender.messages.count == 5)
    }

    @Test(arguments: Backend.available) func concurrentConsumptionAcceptsATokenOnce(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "100000"])
        let principal = try await h.principal(for: h.apiKey)
        guard case .created(let v) = try await h.engine.start(StartRequest(destination: .init(unchecked: "+919876543210", channel: .sms)), principal: principal)
        else { throw TestFailure("not created") }
        await h.deliver()
        let approval = try await h.engine.check(id: v.id, code: try #require(h.sender.code(for: v.id)), principal: principal)
        let accepted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    if case .valid? = try? await h.engine.verifyToken(approval.token, consume: true, purpose: nil, principal: principal) { return true }
                    return false
                }
            }
            var count = 0
            for await ok in group where ok { count += 1 }
            return count
        }
        #expect(accepted == 1)
    }

    /// Starts and checks share transactions on PostgreSQL (group commit); every request still gets its own answer.
    @Test(arguments: Backend.available) func concurrentChecksOfManyVerificationsEachGetTheirOwnAnswer(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "100000"])
        let principal = try await h.principal(for: h.apiKey)
        var verifications: [Verification] = []
        for n in 0..<30 {
            let destination = Destination(unchecked: "+9198765432\(String(format: "%02d", n))", channel: .sms)
            guard case .created(let v) = try await h.engine.start(StartRequest(destination: destination), principal: principal)
            else { throw TestFailure("not created") }
            verifications.append(v)
        }
        await h.deliver()
        let codes = try verifications.map { try #require(h.sender.code(for: $0.id)) }
        // Even-numbered verifications get their code, odd-numbered a wrong one, all at once.
        let outcomes = await withTaskGroup(of: (Int, String).self) { group in
            for (n, v) in verifications.enumerated() {
                let code = n % 2 == 0 ? codes[n] : (codes[n] == "000000" ? "111111" : "000000")
                group.addTask {
                    do {
                        _ = try await h.engine.check(id: v.id, code: code, principal: principal)
                        return (n, "approved")
                    } catch { return (n, "\(error)") }
                }
            }
            var all: [Int: String] = [:]
            for await (n, outcome) in group { all[n] = outcome }
            return all
        }
        for (n, v) in verifications.enumerated() {
            let stored = try await h.store.verification(id: v.id, tenantID: h.tenant.id, admission: nil)
            #expect(stored.attempts == 1)
            if n % 2 == 0 {
                #expect(outcomes[n] == "approved")
                #expect(stored.state == .approved)
            } else {
                #expect(outcomes[n] == "\(VerificationError.incorrectCode(attemptsRemaining: 4))")
                #expect(stored.state == .pending)
            }
        }
    }

    /// The per-key allowance counts batched requests (starts, checks) and single ones (reads) alike, exactly.
    @Test(arguments: Backend.available) func concurrentRequestsOverTheKeyAllowanceAdmitExactlyIt(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "10"])
        let principal = try await h.principal(for: h.apiKey)
        guard case .created(let existing) = try await h.engine.start(StartRequest(destination: .init(unchecked: "+919876543210", channel: .sms)), principal: principal)
        else { throw TestFailure("not created") }
        h.clock.advance(.seconds(1))
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<40 {
                group.addTask {
                    do {
                        switch n % 3 {
                        case 0:
                            let destination = Destination(unchecked: "+9198765430\(String(format: "%02d", n))", channel: .sms)
                            _ = try await h.engine.start(StartRequest(destination: destination), principal: principal)
                        case 1: _ = try await h.engine.check(id: existing.id, code: "999999", principal: principal)
                        default: _ = try await h.engine.verification(id: existing.id, principal: principal)
                        }
                        return true
                    } catch let error as VerificationError {
                        if case .keyRateLimited = error { return false }
                        return true  // admitted, then refused for another reason (a wrong code, spent attempts)
                    } catch { return true }
                }
            }
            var count = 0
            for await ok in group where ok { count += 1 }
            return count
        }
        #expect(admitted == 10)
    }
}
