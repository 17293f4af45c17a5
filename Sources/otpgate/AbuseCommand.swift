import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateServer

/// The conversion guard's holds, for an operator without an API key at hand.
struct AbuseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abuse", abstract: "See and end the SMS-pumping guard's holds on number prefixes.", subcommands: [Holds.self, Release.self])

    struct Holds: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's holds in force, one JSON line each.")
        @Option(help: "Tenant id") var tenant: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            try await Bootstrap.withStore(try await db.settings()) { store in
                for hold in try await store.abuseHolds(tenantID: tenant, now: SystemClock().now()) { print(hold.json.canonicalText) }
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a hold early: starts to the prefix are admitted again.")
        @Option(help: "Tenant id") var tenant: String
        @Argument(help: "The prefix as listed, e.g. +9170") var prefix: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let prefix = prefix.hasPrefix("+") ? prefix : "+" + prefix
            let settings = try await db.settings()
            try await Bootstrap.withStore(settings) { store in
                let now = SystemClock().now()
                guard
                    try await store.releaseAbuseHold(
                        tenantID: tenant, prefix: prefix, now: now,
                        audit: settings.cliAuditActor?.holdReleased(tenantID: tenant, prefix: prefix, at: now))
                else {
                    throw ValidationError("no hold in force on \(prefix) for \(tenant)")
                }
                print("released \(prefix)")
            }
        }
    }
}
