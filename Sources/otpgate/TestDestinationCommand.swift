import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateServer

/// `otpgate tenant test-destination add|remove|list`: destinations with fixed codes for QA and app-store review.
struct TestDestinationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-destination", abstract: "Destinations with a fixed code that are never delivered (QA, app-store review).",
        subcommands: [Add.self, Remove.self, List.self])

    /// Runs `body` with the admin on the database's store and data key; a refusal becomes the command's error.
    static func withAdmin<T: Sendable>(_ db: DatabaseOption, _ body: @escaping @Sendable (TestDestinationAdmin) async throws -> T) async throws -> T {
        let settings = try await db.settings()
        return try await Bootstrap.withStore(settings) { store in
            let admin = TestDestinationAdmin(
                store: store, cipher: try await loadDataCipher(store: store, settings: settings), production: settings.environment == .production,
                audit: settings.cliAuditActor)
            do {
                return try await body(admin)
            } catch let refusal as TestDestinationAdmin.Refusal {
                throw ValidationError(refusal.description)
            }
        }
    }

    struct Target: ParsableArguments {
        @Argument(help: "Tenant id") var tenant: String
        @Option(help: "The phone number or email address") var to: String
        @Option(help: "sms or email (default: email if --to has an @, else sms)") var channel: String?

        func destination() throws -> Destination {
            let name = channel ?? (to.contains("@") ? "email" : "sms")
            guard let channel = OTPGateCore.Channel(rawValue: name) else { throw ValidationError("--channel must be sms or email") }
            do {
                return try Destination.parse(to, channel: channel)
            } catch {
                throw ValidationError("--to \(error.reason)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add (or replace) a test destination and its fixed code.")
        @OptionGroup var target: Target
        @Option(help: "The fixed code, 4 to 10 digits") var code: String
        @Flag(help: "Let it work when OTPGATE_ENV=production (refused there otherwise)") var allowInProduction = false
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let destination = try target.destination()
            let masked = try await TestDestinationCommand.withAdmin(db) { admin in
                try await admin.add(
                    tenantID: target.tenant, destination: destination, code: code, allowInProduction: allowInProduction, now: SystemClock().now())
            }
            print("test destination \(masked) added to \(target.tenant): never delivered, its code is fixed")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a test destination: it is delivered to again.")
        @OptionGroup var target: Target
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let destination = try target.destination()
            let removed = try await TestDestinationCommand.withAdmin(db) { admin in
                try await admin.remove(tenantID: target.tenant, destination: destination, now: SystemClock().now())
            }
            guard removed else { throw ValidationError("\(destination.masked) is not a test destination of \(target.tenant)") }
            print("removed \(destination.masked)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's test destinations (masked; codes are never shown).")
        @Argument(help: "Tenant id") var tenant: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let all = try await TestDestinationCommand.withAdmin(db) { admin in try await admin.list(tenantID: tenant) }
            for d in all {
                print(
                    "\(d.channel.rawValue)\t\(d.masked)\t\(d.allowedInProduction ? "allowed in production" : "not in production")\t\(d.createdAt.iso8601)"
                )
            }
        }
    }
}
