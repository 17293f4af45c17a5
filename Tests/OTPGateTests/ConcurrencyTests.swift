import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateServer

/// Concurrency is part of correctness: N concurrent requests are counted exactly, never lost or double-counted.
@Suite(.timeLimit(.minutes(5))) struct ConcurrencyTests {
    @Test(arguments: Backend.available) func concurrentWrongChecksCountExactlyMaxAttempts(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "100000"])
        let principal = try await h.principal(for: h.apiKey)
        guard
            case .created(let v) = try await h.engine.start(
                StartRequest(destination: .init(unchecked: "+919876543210", channel: .sms)), principal: principal)
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
        #expect(try await h.store.verification(id: v.id, tenantID: h.tenant.id, keyRequest: nil).attempts == 5)
    }

    @Test(arguments: Backend.available) func concurrentStartsToOneDestinationAdmitExactlyTheLimit(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "100000"])
        let principal = try await h.principal(for: h.apiKey)
        let outcomes = await withTaskGroup(of: String.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    do {
                        let result = try await h.engine.start(
                            StartRequest(destination: .init(unchecked: "+919876543210", channel: .sms)), principal: principal)
                        if case .created = result { return "created" }
                        return "\(result)"
                    } catch VerificationError.destinationRateLimited {
                        return "limited"
                    } catch {
                        return "\(error)"  // a storage error is a failure of the test, not a refusal
                    }
                }
            }
            var all: [String] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.filter { $0 == "created" }.count == 5)
        #expect(outcomes.filter { $0 == "limited" }.count == 35, "\(outcomes.filter { $0 != "created" && $0 != "limited" })")
        await h.deliver()
        #expect(h.sender.messages.count == 5)
    }

    @Test(arguments: Backend.available) func concurrentConsumptionAcceptsATokenOnce(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend, environment: ["OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "100000"])
        let principal = try await h.principal(for: h.apiKey)
        guard
            case .created(let v) = try await h.engine.start(
                StartRequest(destination: .init(unchecked: "+919876543210", channel: .sms)), principal: principal)
        else { throw TestFailure("not created") }
        await h.deliver()
        let approval = try await h.engine.check(id: v.id, code: try #require(h.sender.code(for: v.id)), principal: principal)
        let verdicts = await withTaskGroup(of: String.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    do {
                        switch try await h.engine.verifyToken(approval.token, consume: true, purpose: nil, principal: principal) {
                        case .valid: return "valid"
                        case .invalid(let reason): return reason.rawValue
                        }
                    } catch { return "\(error)" }
                }
            }
            var all: [String] = []
            for await verdict in group { all.append(verdict) }
            return all
        }
        #expect(verdicts.filter { $0 == "valid" }.count == 1)
        #expect(verdicts.filter { $0 == "already_used" }.count == 49, "\(verdicts.filter { $0 != "valid" && $0 != "already_used" })")
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
            let stored = try await h.store.verification(id: v.id, tenantID: h.tenant.id, keyRequest: nil)
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
        guard
            case .created(let existing) = try await h.engine.start(
                StartRequest(destination: .init(unchecked: "+919876543210", channel: .sms)), principal: principal)
        else { throw TestFailure("not created") }
        h.clock.advance(.seconds(1))
        let outcomes = await withTaskGroup(of: String.self) { group in
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
                        return "admitted"
                    } catch let error as VerificationError {
                        if case .keyRateLimited = error { return "limited" }
                        return "admitted"  // admitted, then refused for another reason (a wrong code, spent attempts)
                    } catch { return "\(error)" }  // a storage error is neither
                }
            }
            var all: [String] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.filter { $0 == "admitted" }.count == 10)
        #expect(outcomes.filter { $0 == "limited" }.count == 30, "\(outcomes.filter { $0 != "admitted" && $0 != "limited" })")
    }
}
