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
}
