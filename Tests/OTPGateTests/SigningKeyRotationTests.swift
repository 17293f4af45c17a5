import Foundation
import OTPGateCore
import Testing

@testable import OTPGateServer
@testable import OTPGateTokens

/// Signing-key rotation: the next key is published in the JWKS before it signs anything, every instance learns of
/// it by refreshing from the store, and the replaced key stays published until its last token has expired.
@Suite struct SigningKeyRotationTests {
    func kids(_ signer: any TokenSigner) async throws -> Set<String> {
        guard case .object(let set) = try JSONValue(parsing: String(decoding: try await signer.jwks(), as: UTF8.self)),
            case .array(let keys)? = set["keys"]
        else { throw TestFailure("no JWKS") }
        return Set(
            keys.compactMap { key in
                if case .object(let o) = key, case .string(let kid)? = o["kid"] { return kid }
                return nil
            })
    }

    func header(_ token: String) throws -> String {
        let header = try JSONDecoder().decode([String: String].self, from: try #require(Base64URL.decode(String(token.split(separator: ".")[0]))))
        return try #require(header["kid"])
    }

    @Test(arguments: Backend.available) func theNextKeyIsPublishedBeforeItSignsAndTheOldOneUntilItsTokensExpire(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let tokens = TokenTests()
        let signer = try #require(h.runtime.signer as? JWTTokenSigner)
        let oldKID = try #require(try await kids(signer).first)
        // A second instance on the same store.
        let other = try await ServerRuntime.make(
            settings: h.runtime.settings, store: h.store,
            dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 5), sender: h.sender))
        let otherSigner = try #require(other.signer as? JWTTokenSigner)

        let master = try MasterKey.ring(settings: h.runtime.settings, random: SeededRandom(seed: 1))
        let newKID = try await JWTTokenSigner.addKey(
            store: h.store, master: master, activatesAt: h.clock.now() + .seconds(3600), now: h.clock.now())
        #expect(newKID != oldKID)
        // Until an instance refreshes, it neither publishes nor uses the new key; after, it publishes it but signs
        // with the old one until the activation time.
        #expect(try await kids(signer) == [oldKID])
        try await signer.refresh()
        try await otherSigner.refresh()
        #expect(try await kids(signer) == [oldKID, newKID])
        #expect(try await kids(otherSigner) == [oldKID, newKID])
        let before = try await tokens.approvedToken(h)
        #expect(try header(before.token) == oldKID)

        // From the activation time on, tokens are signed by the new key, and the other instance accepts them.
        h.clock.advance(.seconds(3600))
        let after = try await tokens.approvedToken(h)
        #expect(try header(after.token) == newKID)
        guard case .valid = try await other.engine.verifyToken(after.token, consume: false, purpose: nil, principal: h.principal) else {
            throw TestFailure("the other instance refused a token signed by the new key")
        }
        // The old key is still published (its tokens may still be alive) until the longest token lifetime has passed.
        #expect(try await kids(signer) == [oldKID, newKID])
        h.clock.advance(JWTTokenSigner.maximumTokenLifetime)
        #expect(try await kids(signer) == [newKID])
        #expect(signer.keyStates(at: h.clock.now()).map(\.state) == ["retired", "active"])
    }

    @Test(arguments: Backend.available) func aNewInstanceSignsWithTheKeyActiveNow(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let master = try MasterKey.ring(settings: h.runtime.settings, random: SeededRandom(seed: 1))
        let newKID = try await JWTTokenSigner.addKey(store: h.store, master: master, activatesAt: h.clock.now() + .seconds(600), now: h.clock.now())
        h.clock.advance(.seconds(601))
        let restarted = try await ServerRuntime.make(
            settings: h.runtime.settings, store: h.store,
            dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 6), sender: h.sender))
        #expect(restarted.signer is JWTTokenSigner)
        let token = try await restarted.signer.sign(
            VerificationClaims(
                iss: "otpgate", sub: "vrf_x", tenantID: h.tenant.id, jti: "tok_x", iat: h.clock.now().seconds, exp: h.clock.now().seconds + 60,
                purpose: nil, context: nil, reference: nil, amr: ["otp"]))
        #expect(try header(token) == newKID)
    }
}

extension RealProcesses {
    @Suite struct SigningKeyCommandTests {
        @Test func rotateAndListFromTheCommandLine() async throws {
            let dir = try temporaryDirectory()
            let db = "sqlite:\(dir.path)/keys.sqlite"
            let env = ["OTPGATE_MASTER_KEY": testMasterKey]
            let server = try await OTPGateServerProcess.start(directory: dir, database: db, environment: env)
            #expect(try await server.stop(signal: SIGTERM) == 0)
            #expect(try OTPGateProcess.run(["signing-key", "rotate", "--activate-in", "60", "--database", db], environment: env).status != 0)
            let rotated = try OTPGateProcess.run(["signing-key", "rotate", "--database", db], environment: env)
            #expect(rotated.status == 0, "\(rotated.stderr)")
            #expect(rotated.stdout.contains("published now, signing from"))
            let listed = try OTPGateProcess.run(["signing-key", "list", "--database", db], environment: env)
            let states = listed.stdout.split(separator: "\n").map { $0.split(separator: " ")[1] }
            #expect(states == ["active", "next"])
        }
    }
}
