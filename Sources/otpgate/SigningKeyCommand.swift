import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateServer
import OTPGateTokens

/// `otpgate signing-key rotate | list`: a new token signing key, published before it signs.
struct SigningKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signing-key", abstract: "Rotate or list the verification-token signing keys.", subcommands: [Rotate.self, List.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a signing key that signs from --activate-in seconds on; until then it is only published in the JWKS.",
            discussion: """
                Running instances pick the key up within a minute and publish it at once, so verifiers that cache the JWKS
                (max-age 300 s) know it before the first token it signs. The key it replaces stays published until its
                last token has expired (the longest token lifetime after the switch).
                """)
        @Option(help: "Seconds until the new key signs (at least 600, default 3600)") var activateIn = 3600
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let minimum = Int(SigningKeyRefresher.minimumNotice.components.seconds)
            guard activateIn >= minimum, activateIn <= 30 * 86_400 else {
                throw ValidationError("--activate-in must be \(minimum) to 2592000 seconds: instances and JWKS caches need the notice")
            }
            let settings = try await db.settings()
            let master = try MasterKey.ring(settings: settings, random: SystemRandomSource())
            let now = SystemClock().now()
            let activatesAt = now + .seconds(activateIn)
            let kid = try await Bootstrap.withStore(settings) { store in
                try await JWTTokenSigner.addKey(store: store, master: master, activatesAt: activatesAt, now: now)
            }
            print("signing key \(kid) published now, signing from \(activatesAt.iso8601)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the signing keys: active, next, retiring (still published) or retired.")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            let master = try MasterKey.ring(settings: settings, random: SystemRandomSource())
            let states = try await Bootstrap.withStore(settings) { store in
                try await JWTTokenSigner.load(store: store, master: master, clock: SystemClock()).keyStates(at: SystemClock().now())
                    .map { "\($0.kid) \($0.state) activates \($0.activatesAt.iso8601)" }
            }
            for line in states { print(line) }
        }
    }
}
