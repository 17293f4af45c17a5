import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateProfiles
import OTPGateServer

/// `otpgate records import | count`: the subject records the vendor profiles release.
struct RecordsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records", abstract: "Import and count the records vendor profiles release.", subcommands: [Import.self, Count.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import JSON Lines records for a tenant: all lines or none (docs/compat/records.md).",
            discussion: "Every line is validated first; bad lines are listed by number and nothing is written. Records upsert by kind and identity.")
        @Option(help: "Tenant id") var tenant: String
        @Argument(help: "JSON Lines file (- for standard input)") var file: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let read = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
                data = read
            }
            let started = ContinuousClock.now
            let lines: [RecordImport.Line]
            do {
                lines = try RecordImport.parse(Array(data))
            } catch {
                for lineError in error.errors.prefix(100) {
                    FileHandle.standardError.write(Data("\(file):\(lineError.line): \(lineError.reason)\n".utf8))
                }
                if error.errors.count > 100 { FileHandle.standardError.write(Data("… and \(error.errors.count - 100) more\n".utf8)) }
                FileHandle.standardError.write(Data("\(error.description)\n".utf8))
                throw ExitCode(65)
            }
            let total = lines.count
            let clear = lines.filter { $0.clearPassword != nil }.count
            let bar = ProgressBar(total: total, enabled: isatty(STDERR_FILENO) == 1)
            let tenant = self.tenant
            let count = try await Bootstrap.withStore(settings) { store in
                guard try await store.tenant(id: tenant) != nil else { throw ValidationError("no tenant \(tenant)") }
                let book = try await RecordImport.book(store: store, settings: settings)
                let importer = RecordImport(
                    book: book, passwords: PasswordCheckPool(threads: settings.passwordThreads ?? ProcessInfo.processInfo.activeProcessorCount),
                    random: SystemRandomSource(), clock: SystemClock())
                return try await importer.run(lines, tenantID: tenant) { phase, done in
                    bar.update(phase == .hashing ? "hashing \(clear) passwords" : "writing", done: done, of: phase == .hashing ? clear : total)
                }
            }
            bar.finish()
            let elapsed = ContinuousClock.now - started
            let seconds = max(0.001, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            print("imported \(count) records for \(tenant) in \(String(format: "%.2f", seconds)) s (\(Int(Double(count) / seconds)) records/s)")
        }
    }

    struct Count: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How many records of each kind a tenant holds.")
        @Option(help: "Tenant id") var tenant: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let tenant = self.tenant
            let counts = try await Bootstrap.withStore(try await db.settings()) { store in try await store.recordCounts(tenantID: tenant) }
            for kind in RecordKind.allCases { print("\(kind.rawValue)\t\(counts[kind.rawValue] ?? 0)") }
        }
    }
}

/// A one-line progress bar with rate and ETA on a terminal (standard error); nothing otherwise.
final class ProgressBar: Sendable {
    let total: Int
    let enabled: Bool
    let started = ContinuousClock.now

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    func update(_ label: String, done: Int, of total: Int) {
        guard enabled, total > 0 else { return }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30
        let filled = min(width, done * width / total)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "\r%@ [%@] %d/%d  %.0f/s  ETA %.0fs ", label, bar, done, total, rate, eta)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
