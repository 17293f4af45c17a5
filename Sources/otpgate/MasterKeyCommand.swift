import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateServer

/// `otpgate master-key generate | rotate`: a new master key, and moving the stored secrets onto it.
struct MasterKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "master-key", abstract: "Generate a master key, or re-wrap the stored secrets under a new one.",
        subcommands: [Generate.self, Rotate.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a new random master key (64 hex digits).")

        func run() async throws {
            print(SystemRandomSource().bytes(32).map { String(format: "%02x", $0) }.joined())
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-wrap every stored secret under OTPGATE_MASTER_KEY that is still under OTPGATE_MASTER_KEY_PREVIOUS.",
            discussion: """
                Without downtime: 1. start every instance with OTPGATE_MASTER_KEY=<new> and OTPGATE_MASTER_KEY_PREVIOUS=<old>;
                2. run this command once with the same two settings; 3. remove OTPGATE_MASTER_KEY_PREVIOUS and restart the
                instances one by one. Only the shared secrets are re-wrapped (no row of personal data), so it takes moments.
                """)
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            guard settings.masterKeyPrevious != nil else {
                throw ValidationError("set OTPGATE_MASTER_KEY_PREVIOUS to the key being rotated away from (and OTPGATE_MASTER_KEY to the new one)")
            }
            let master = try MasterKey.ring(settings: settings, random: SystemRandomSource())
            let report = try await Bootstrap.withStore(settings) { store in try await MasterKeyRotation.rotate(store: store, master: master) }
            print("re-wrapped \(report.rewrapped) secrets under the current master key (\(report.alreadyCurrent) already were)")
            print("once every instance runs with the new key, remove OTPGATE_MASTER_KEY_PREVIOUS")
        }
    }
}
