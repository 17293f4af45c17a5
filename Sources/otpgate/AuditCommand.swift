import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateServer
import OTPGateTokens

/// `otpgate audit verify`: checks each tenant's audit chain and the signatures of its checkpoints.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check the tamper-evident audit log.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every tenant's (or one tenant's) chain up to its last signed checkpoint; exits 1 on any problem.")
        @Option(help: "Only this tenant") var tenant: String?
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            let master = try MasterKey.ring(settings: settings, random: SystemRandomSource())
            let failed = try await Bootstrap.withStore(settings) { store -> Bool in
                let signer = try await JWTTokenSigner.load(store: store, master: master, clock: SystemClock())
                let verifier = AuditVerifier(store: store, signer: signer)
                var failed = false
                let tenants: [String]
                if let tenant { tenants = [tenant] } else { tenants = try await store.auditTenants() }
                for tenant in tenants {
                    let report = try await verifier.verify(tenantID: tenant)
                    if report.problems.isEmpty {
                        print(
                            "\(tenant)\tok\t\(report.entries) entries, checked up to seq \(report.checkedUpTo), \(report.uncovered) not yet covered")
                    } else {
                        failed = true
                        for problem in report.problems { print("\(tenant)\tTAMPERED\t\(problem)") }
                    }
                }
                return failed
            }
            if failed { throw ExitCode(1) }
        }
    }
}
