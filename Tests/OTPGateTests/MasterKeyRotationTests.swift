import Foundation
import OTPGateCore
import Testing

@testable import OTPGateServer

/// `otpgate master-key rotate`: the shared secrets move from the previous master key to the new one while
/// instances keep serving, and afterwards only the new key opens them.
@Suite struct MasterKeyRotationTests {
    static let newKey = String(repeating: "cd", count: 32)

    func runtime(_ h: Harness, key: String, previous: String? = nil) async throws -> ServerRuntime {
        var settings = h.runtime.settings
        settings.masterKey = key
        settings.masterKeyPrevious = previous
        return try await ServerRuntime.make(
            settings: settings, store: h.store, dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 9), sender: h.sender))
    }

    @Test(arguments: Backend.available) func rotationRewrapsEverySecretWithoutInterruptingService(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let started = try await h.engine.start(
            StartRequest(destination: Destination(unchecked: "+919812345678", channel: .sms), reference: "loan-1"), principal: h.principal)
        guard case .created(let v) = started else { throw TestFailure("not created") }

        // 1. The rollout: an instance with the new key and the previous one opens what the old key wrapped.
        let rolling = try await runtime(h, key: Self.newKey, previous: testMasterKey)
        #expect(try await rolling.engine.verification(id: v.id, principal: h.principal).reference == "loan-1")
        #expect(try await rolling.signer.jwks() == (try await h.runtime.signer.jwks()))

        // 2. The rotation re-wraps each secret once (a second run finds nothing left to do).
        let ring = MasterKeyRing(current: try MasterKey.parse(Self.newKey), previous: try MasterKey.parse(testMasterKey))
        let first = try await MasterKeyRotation.rotate(store: h.store, master: ring)
        #expect(first.rewrapped == 3)  // the code-hashing key, the data key and the signing key
        #expect(first.alreadyCurrent == 0)
        #expect(try await MasterKeyRotation.rotate(store: h.store, master: ring) == .init(rewrapped: 0, alreadyCurrent: 3))

        // 3. The new key alone now opens everything: personal fields, the code hash, the signing key.
        let rotated = try await runtime(h, key: Self.newKey)
        #expect(try await rotated.engine.verification(id: v.id, principal: h.principal).reference == "loan-1")
        await h.deliver()
        let code = try #require(h.sender.code(for: v.id))
        let approval = try await rotated.engine.check(id: v.id, code: code, principal: h.principal)
        #expect(approval.verification.destination == "+919812345678")
        // An instance still running on the old key's cached secrets keeps working until it is restarted…
        guard case .valid = try await h.engine.verifyToken(approval.token, consume: false, purpose: nil, principal: h.principal) else {
            throw TestFailure("the running instance refused a token signed after the rotation")
        }
        // …but the old key alone no longer opens the stored secrets.
        await #expect(throws: ConfigurationError.self) { _ = try await runtime(h, key: testMasterKey) }
    }

    @Test func previousKeyEqualToTheCurrentOneIsRefused() async throws {
        let h = try await Harness.make()
        await #expect(throws: ConfigurationError.self) { _ = try await runtime(h, key: testMasterKey, previous: testMasterKey) }
    }
}

extension RealProcesses {
    @Suite struct MasterKeyCommandTests {
        @Test func generateAndRotateFromTheCommandLine() async throws {
            let dir = try temporaryDirectory()
            let db = "sqlite:\(dir.path)/rotate.sqlite"
            // A first start writes the shared secrets under the old key.
            let server = try await OTPGateServerProcess.start(directory: dir, database: db, environment: ["OTPGATE_MASTER_KEY": testMasterKey])
            #expect(try await server.stop(signal: SIGTERM) == 0)
            let generated = try OTPGateProcess.run(["master-key", "generate"])
            let newKey = generated.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(newKey.count == 64 && newKey.allSatisfy(\.isHexDigit))
            // Without the previous key named, rotate explains what it needs and changes nothing.
            let refused = try OTPGateProcess.run(["master-key", "rotate", "--database", db], environment: ["OTPGATE_MASTER_KEY": newKey])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("OTPGATE_MASTER_KEY_PREVIOUS"))
            let rotated = try OTPGateProcess.run(
                ["master-key", "rotate", "--database", db], environment: ["OTPGATE_MASTER_KEY": newKey, "OTPGATE_MASTER_KEY_PREVIOUS": testMasterKey])
            #expect(rotated.status == 0, "\(rotated.stderr)")
            #expect(rotated.stdout.contains("re-wrapped 3 secrets"))
            // The rotation is done: rotating again moves nothing, and the old key alone no longer opens the secrets.
            let again = try OTPGateProcess.run(
                ["master-key", "rotate", "--database", db], environment: ["OTPGATE_MASTER_KEY": newKey, "OTPGATE_MASTER_KEY_PREVIOUS": testMasterKey])
            #expect(again.stdout.contains("re-wrapped 0 secrets"))
            let wrongWay = try OTPGateProcess.run(
                ["master-key", "rotate", "--database", db],
                environment: ["OTPGATE_MASTER_KEY": testMasterKey, "OTPGATE_MASTER_KEY_PREVIOUS": String(repeating: "ef", count: 32)])
            #expect(wrongWay.status != 0)
            #expect(wrongWay.stderr.contains("opens under neither"))
        }
    }
}
