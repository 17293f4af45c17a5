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
        @Option(
            help: """
                SEQ:HASH kept outside the database (an earlier run's `anchor`, or an `audit checkpoint` log line): the chain must \
                still hold it (needs --tenant; repeatable)
                """) var anchor: [String] = []
        @OptionGroup var db: DatabaseOption

        func validate() throws {
            if !anchor.isEmpty, tenant == nil { throw ValidationError("--anchor needs --tenant: an anchor belongs to one tenant's chain") }
            for text in anchor where AuditChain.Anchor(text) == nil {
                throw ValidationError("--anchor \(text) is not SEQ:HASH (a positive seq, a colon and 64 hex digits)")
            }
        }

        func run() async throws {
            let anchors = anchor.compactMap(AuditChain.Anchor.init)
            let settings = try await db.settings()
            let master = try MasterKey.ring(settings: settings, random: SystemRandomSource())
            let failed = try await Bootstrap.withStore(settings) { store -> Bool in
                let signer = try await JWTTokenSigner.load(store: store, master: master, clock: SystemClock())
                let verifier = AuditVerifier(store: store, signer: signer)
                let cutoff = SystemClock().now() - .seconds(Int64(settings.auditRetentionDays) * 86_400)
                var failed = false
                let tenants: [String]
                if let tenant { tenants = [tenant] } else { tenants = try await store.auditTenants() }
                for tenant in tenants {
                    let report = try await verifier.verify(tenantID: tenant, anchors: anchors, purgeCutoff: cutoff)
                    if report.problems.isEmpty {
                        var line =
                            "\(tenant)\tok\t\(report.entries) entries, checked up to seq \(report.checkedUpTo), \(report.uncovered) not yet covered"
                        if report.anchorsPurged > 0 { line += ", \(report.anchorsPurged) anchor(s) older than the kept log" }
                        // Kept elsewhere, it proves the next run's chain still holds everything up to here.
                        if report.checkedUpTo > 0 {
                            line += "\tanchor \(AuditChain.Anchor(seq: report.checkedUpTo, hash: report.checkedHash).text)"
                        }
                        print(line)
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
