import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateServer
@testable import OTPGateTokens

/// Verification tokens: claims, signature, algorithm pinning, expiry, purpose, tenant and single use.
@Suite struct TokenTests {
    /// Starts and approves a verification through the engine, returning its token.
    func approvedToken(_ h: Harness, purpose: String? = "card_activation") async throws -> (token: String, verification: Verification) {
        let principal = try await h.principal(for: h.apiKey)
        let started = try await h.engine.start(
            StartRequest(
                destination: .init(unchecked: "+919876543210", channel: .sms), purpose: purpose, reference: "loan-2291",
                context: .object(["payee": .string("ACME")])),
            principal: principal)
        guard case .created(let v) = started else { throw TestFailure("not created") }
        await h.deliver()
        let code = try #require(h.sender.code(for: v.id))
        let approval = try await h.engine.check(id: v.id, code: code, principal: principal)
        return (approval.token, approval.verification)
    }

    @Test(arguments: Backend.available) func claimsCarryTheVerifiedDestinationAndBinding(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend, environment: ["OTPGATE_ISSUER": "https://otp.example.in", "OTPGATE_POLICY_TOKEN_TTL_SECONDS": "120"])
        let (token, v) = try await approvedToken(h)
        let principal = try await h.principal(for: h.apiKey)
        guard case .valid(let claims) = try await h.engine.verifyToken(token, consume: false, purpose: nil, principal: principal) else {
            Issue.record("token not valid")
            return
        }
        #expect(claims.iss == "https://otp.example.in")
        #expect(claims.sub == v.id)
        #expect(claims.tenantID == h.tenant.id)
        #expect(claims.jti.hasPrefix("tok_"))
        #expect(claims.iat == h.clock.now().seconds)
        #expect(claims.exp == claims.iat + 120)
        #expect(claims.phoneNumber == "+919876543210")
        #expect(claims.phoneNumberVerified == true)
        #expect(claims.email == nil)
        #expect(claims.purpose == "card_activation")
        #expect(claims.context == .object(["payee": .string("ACME")]))
        #expect(claims.reference == "loan-2291")
        #expect(claims.amr == ["otp", "sms"])

        // The JOSE header names the algorithm and a key listed in the JWKS.
        let header = try JSONDecoder().decode([String: String].self, from: try #require(Base64URL.decode(String(token.split(separator: ".")[0]))))
        #expect(header["alg"] == "ES256")
        let jwks = try JSONDecoder().decode(JSONValue.self, from: Data(try await h.runtime.signer.jwks()))
        guard case .object(let set) = jwks, case .array(let keys)? = set["keys"], case .object(let key)? = keys.first else {
            Issue.record("no JWKS keys")
            return
        }
        #expect(key["kid"] == .string(header["kid"]!))
        #expect(key["kty"] == .string("EC"))
        #expect(key["crv"] == .string("P-256"))
        #expect(key["d"] == nil)
    }

    @Test(arguments: Backend.available) func aTokenIsVerifiableWithOnlyThePublishedJWKS(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let (token, _) = try await approvedToken(h)
        let jwks = try JSONDecoder().decode(JSONValue.self, from: Data(try await h.runtime.signer.jwks()))
        guard case .object(let set) = jwks, case .array(let keys)? = set["keys"], case .object(let key)? = keys.first,
            case .string(let x)? = key["x"], case .string(let y)? = key["y"]
        else {
            Issue.record("no key")
            return
        }
        let publicKey = try P256.Signing.PublicKey(rawRepresentation: try #require(Base64URL.decode(x)) + #require(Base64URL.decode(y)))
        let parts = token.split(separator: ".")
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: try #require(Base64URL.decode(String(parts[2]))))
        #expect(publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)))
    }

    @Test(arguments: Backend.available) func everyReasonATokenIsRefused(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let (token, _) = try await approvedToken(h)
        let principal = try await h.principal(for: h.apiKey)
        func verdict(_ t: String, consume: Bool = false, purpose: String? = nil, as p: Principal? = nil) async throws -> TokenVerdict {
            try await h.engine.verifyToken(t, consume: consume, purpose: purpose, principal: p ?? principal)
        }
        let parts = token.split(separator: ".").map(String.init)
        #expect(try await verdict("not a token") == .invalid(.malformed))
        #expect(try await verdict("a.b") == .invalid(.malformed))
        #expect(try await verdict("!!!.???.***") == .invalid(.malformed))

        // A forged header with alg none or HS256 is refused before any key is tried.
        for alg in ["none", "HS256", "ES384"] {
            let header = Data(#"{"alg":"\#(alg)","kid":"x"}"#.utf8).base64URL
            #expect(try await verdict("\(header).\(parts[1]).\(parts[2])") == .invalid(.unsupportedAlgorithm))
        }
        let unknownKID = Data(#"{"alg":"ES256","kid":"someone-else"}"#.utf8).base64URL
        #expect(try await verdict("\(unknownKID).\(parts[1]).\(parts[2])") == .invalid(.unknownKey))

        // Changing one claim breaks the signature.
        var payload = try JSONDecoder().decode([String: JSONValue].self, from: try #require(Base64URL.decode(parts[1])))
        payload["purpose"] = .string("imps_transfer")
        let tampered = try JSONEncoder().encode(payload).base64URL
        #expect(try await verdict("\(parts[0]).\(tampered).\(parts[2])") == .invalid(.badSignature))
        #expect(try await verdict("\(parts[0]).\(parts[1]).\(parts[2].dropLast(4))AAAA") == .invalid(.badSignature))

        #expect(try await verdict(token, purpose: "imps_transfer") == .invalid(.purposeMismatch))

        let other = try await h.makeTenant("globex")
        #expect(try await verdict(token, as: try await h.principal(for: other.apiKey)) == .invalid(.tenantMismatch))

        guard case .valid = try await verdict(token, consume: true, purpose: "card_activation") else {
            Issue.record("first use refused")
            return
        }
        #expect(try await verdict(token, consume: true) == .invalid(.alreadyUsed))
        #expect(try await verdict(token) == .invalid(.alreadyUsed))
    }

    /// A token has one spelling (issue 12): the same signature re-encoded — padded, or with the spare bits of its last
    /// character set — is refused, although it decodes to the same bytes.
    @Test func onlyTheCanonicalSpellingOfATokenVerifies() async throws {
        let h = try await Harness.make()
        let (token, _) = try await approvedToken(h)
        let principal = try await h.principal(for: h.apiKey)
        let parts = token.split(separator: ".").map(String.init)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        // 64 signature bytes take 86 characters: the last one carries 4 bits that must be zero.
        let lastCharacter = try #require(parts[2].last)
        let last = try #require(alphabet.firstIndex(of: lastCharacter))
        #expect(last & 0b1111 == 0)
        let spareBitsSet = String(parts[2].dropLast()) + String(alphabet[last | 0b0101])
        let spellings = [
            "\(parts[0]).\(parts[1]).\(parts[2])=", "\(parts[0]).\(parts[1]).\(parts[2])==", "\(parts[0]).\(parts[1]).\(spareBitsSet)",
            "\(parts[0])=.\(parts[1]).\(parts[2])", "\(parts[0]).\(parts[1])=.\(parts[2])",
            "\(parts[0]).\(parts[1]).\(parts[2].replacingOccurrences(of: "-", with: "+"))",
        ]
        for spelling in spellings where spelling != token {
            if case .valid = try await h.engine.verifyToken(spelling, consume: false, purpose: nil, principal: principal) {
                Issue.record("a non-canonical spelling verified: \(spelling.suffix(12))")
            }
        }
        guard case .valid = try await h.engine.verifyToken(token, consume: false, purpose: nil, principal: principal) else {
            Issue.record("the canonical token was refused")
            return
        }
    }

    @Test(arguments: Backend.available) func tokensExpire(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let (token, _) = try await approvedToken(h)
        let principal = try await h.principal(for: h.apiKey)
        h.clock.advance(.seconds(299))
        guard case .valid = try await h.engine.verifyToken(token, consume: false, purpose: nil, principal: principal) else {
            Issue.record("token expired early")
            return
        }
        h.clock.advance(.seconds(1))
        #expect(try await h.engine.verifyToken(token, consume: false, purpose: nil, principal: principal) == .invalid(.expired))
    }

    @Test(arguments: Backend.available) func signingKeysAndCodeSecretPersistAcrossRestarts(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let (token, _) = try await approvedToken(h)
        // A second runtime on the same database (a restart, or another instance) adopts the same secrets.
        let settings = h.runtime.settings
        let again = try await ServerRuntime.make(
            settings: settings, store: h.store, dependencies: ServerDependencies(clock: h.clock, random: SeededRandom(seed: 7), sender: h.sender))
        #expect(try await again.signer.jwks() == (try await h.runtime.signer.jwks()))
        #expect(again.engine.hasher.hash(code: "123456", verificationID: "vrf_x") == h.engine.hasher.hash(code: "123456", verificationID: "vrf_x"))
        let principal = try await h.principal(for: h.apiKey)
        guard case .valid = try await again.engine.verifyToken(token, consume: false, purpose: nil, principal: principal) else {
            Issue.record("the other instance refused the token")
            return
        }
    }

    @Test(arguments: Backend.available) func aWrongMasterKeyCannotOpenTheSecrets(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        var settings = h.runtime.settings
        settings.masterKey = String(repeating: "cd", count: 32)
        await #expect(throws: ConfigurationError.self) {
            _ = try await ServerRuntime.make(settings: settings, store: h.store, dependencies: ServerDependencies(sender: h.sender))
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(
            of: "=", with: "")
    }
}
