import Foundation
import Synchronization
import Testing

/// A real SMTP server on loopback for one test: aiosmtpd through `scripts/smtp-test-server.py` (installed by
/// `scripts/test.sh`). Each accepted message is a JSON file in its mail directory.
final class SMTPTestServer: Sendable {
    let port: Int
    let mailDirectory: URL
    let directory: URL
    private let process: ProcessBox

    final class ProcessBox: @unchecked Sendable {
        // Process is not Sendable; the box is only touched to signal and reap the child.
        let process: Process
        let stdin: Pipe
        init(_ process: Process, stdin: Pipe) {
            self.process = process
            self.stdin = stdin
        }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A CA and a server certificate for `localhost` and 127.0.0.1 (made once per test run).
    static let certificates: (ca: String, certificate: String, key: String) = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("otpgate-test-certs")
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/bin/bash")
        make.arguments = [repository.appendingPathComponent("scripts/make-test-cert.sh").path, directory.path]
        make.standardOutput = FileHandle.nullDevice
        try? ProcessLaunch.run(make)
        // Polled: `waitUntilExit` can block for good inside Swift concurrency on Linux.
        while make.isRunning { usleep(10_000) }
        return (
            directory.appendingPathComponent("ca.pem").path, directory.appendingPathComponent("server.pem").path,
            directory.appendingPathComponent("server-key.pem").path
        )
    }()

    private init(port: Int, directory: URL, process: ProcessBox) {
        self.port = port
        self.directory = directory
        self.mailDirectory = directory.appendingPathComponent("mail")
        self.process = process
    }

    /// Starts the server with `arguments` (see the script's `--help`: `--starttls CERT KEY`, `--auth USER:PASS`,
    /// `--refuse-recipient S`, `--delay SECONDS` …).
    static func start(_ arguments: [String] = []) async throws -> SMTPTestServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("otpgate-smtp-\(UUID().uuidString.prefix(8))")
        let mail = directory.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
        let stdoutPath = directory.appendingPathComponent("stdout").path
        let stderrPath = directory.appendingPathComponent("stderr").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", repository.appendingPathComponent("scripts/smtp-test-server.py").path, "--port", "0", "--mail-dir", mail.path,
                "--exit-on-stdin-eof",
                "--control-file", directory.appendingPathComponent("control").path, "--verbose",
            ]
            + arguments
        // The server exits when this pipe closes, so a crashed test leaves no server behind.
        let stdin = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try ProcessLaunch.run(process)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let line = out.split(separator: "\n").first(where: { $0.hasPrefix("READY ") }), let port = Int(line.dropFirst(6)) {
                return SMTPTestServer(port: port, directory: directory, process: ProcessBox(process, stdin: stdin))
            }
            if !process.isRunning {
                throw TestFailure("smtp-test-server.py exited: \((try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw TestFailure("smtp-test-server.py did not start within 30 s")
    }

    /// The messages accepted so far, in order.
    var mails: [ReceivedMail] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: mailDirectory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
            .sorted { (Int($0.dropLast(5)) ?? 0) < (Int($1.dropLast(5)) ?? 0) }
            .compactMap { try? ReceivedMail(file: mailDirectory.appendingPathComponent($0)) }
    }

    func waitForMails(_ count: Int, within: Duration = .seconds(30)) async throws -> [ReceivedMail] {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            let received = mails
            if received.count >= count { return received }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("expected \(count) mails, the server accepted \(mails.count)")
    }

    /// What the server logged (every SMTP line: it runs with `--verbose`).
    var log: String { (try? String(contentsOf: directory.appendingPathComponent("stderr"), encoding: .utf8)) ?? "" }

    /// A file whose content `down` makes the server answer DATA with 421 (an outage), until it is set back to `up`.
    var controlFile: URL { directory.appendingPathComponent("control") }
    func setDown(_ down: Bool) throws { try Data((down ? "down" : "up").utf8).write(to: controlFile) }

    func stop() {
        // Killed outright, without waiting (a blocked thread would starve the test's executor): every accepted message
        // is on disk before its 250, and a connection the sender keeps open would otherwise hold a polite shutdown.
        guard process.process.isRunning else { return }
        kill(process.process.processIdentifier, SIGKILL)
    }

    deinit { stop() }
}

/// One message as the SMTP server received it.
struct ReceivedMail: Sendable {
    var mailFrom: String
    var recipients: [String]
    /// The message as sent (headers and body, CRLF, dot-stuffing already undone by the server).
    var data: String
    var tls: Bool
    var authUser: String?
    /// The client's address and port: the same port for two messages means one reused connection.
    var peerPort: Int

    init(file: URL) throws {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] ?? [:]
        mailFrom = object["mail_from"] as? String ?? ""
        recipients = object["rcpt_tos"] as? [String] ?? []
        data = object["data"] as? String ?? ""
        tls = object["tls"] as? Bool ?? false
        authUser = object["auth_user"] as? String
        peerPort = (object["peer"] as? [Any])?.last as? Int ?? 0
    }

    /// A header's raw value (unfolded), or nil.
    func header(_ name: String) -> String? {
        let head = data.components(separatedBy: "\r\n\r\n").first ?? ""
        var value: String?
        for line in head.components(separatedBy: "\r\n") {
            if line.hasPrefix(" ") || line.hasPrefix("\t"), value != nil {
                value! += line.trimmingCharacters(in: .whitespaces)
            } else if value != nil {
                break
            } else if line.lowercased().hasPrefix(name.lowercased() + ":") {
                value = String(line.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
            }
        }
        return value
    }

    /// The body with quoted-printable undone (every part, boundaries and part headers included).
    var decodedBody: String {
        let body = data.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        var bytes: [UInt8] = []
        let raw = Array(body.replacingOccurrences(of: "=\r\n", with: "").utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == UInt8(ascii: "="), index + 2 < raw.count,
                let value = UInt8(String(decoding: raw[index + 1...index + 2], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
