import Foundation
import OTPGateCore

/// An email as it goes over SMTP's DATA: RFC 5322 headers (non-ASCII words as RFC 2047 encoded-words), a text part
/// and an optional HTML part in quoted-printable, CRLF line ends and dot-stuffing (RFC 5321 §4.5.2).
/// No value can add a header: a CR or LF in any header value is refused here, whatever the caller checked before.
struct MIMEMessage: Sendable {
    var from: String
    var fromName: String?
    var to: String
    var subject: String
    var text: String
    var html: String?
    var messageID: String
    var date: Date

    /// The DATA payload, without the terminating `.` line.
    func encoded(boundary: String) throws(DeliveryError) -> [UInt8] {
        for value in [from, fromName ?? "", to, subject, messageID] where value.contains(where: \.isNewline) {
            throw .permanent("a header value contains a line break")
        }
        var lines: [String] = []
        lines.append("From: " + Self.mailbox(from, name: fromName))
        lines.append("To: <\(to)>")
        lines.append("Subject: " + Self.encodedWords(subject))
        lines.append("Date: " + Self.rfc5322Date(date))
        lines.append("Message-ID: <\(messageID)>")
        lines.append("MIME-Version: 1.0")
        lines.append("Auto-Submitted: auto-generated")
        if let html {
            lines.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("--\(boundary)")
            lines.append(contentsOf: Self.part(text, type: "text/plain"))
            lines.append("--\(boundary)")
            lines.append(contentsOf: Self.part(html, type: "text/html"))
            lines.append("--\(boundary)--")
        } else {
            lines.append("Content-Type: text/plain; charset=utf-8")
            lines.append("Content-Transfer-Encoding: quoted-printable")
            lines.append("")
            lines.append(contentsOf: Self.quotedPrintable(text))
        }
        // Dot-stuffing: a line that starts with "." gets another, so no body line can end the DATA.
        let stuffed = lines.map { $0.hasPrefix(".") ? "." + $0 : $0 }
        return Array((stuffed.joined(separator: "\r\n") + "\r\n").utf8)
    }

    private static func part(_ body: String, type: String) -> [String] {
        ["Content-Type: \(type); charset=utf-8", "Content-Transfer-Encoding: quoted-printable", ""] + quotedPrintable(body)
    }

    static func mailbox(_ address: String, name: String?) -> String {
        guard let name, !name.isEmpty else { return "<\(address)>" }
        let plain = name.utf8.allSatisfy { (0x20...0x7E).contains($0) && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        return (plain ? "\"\(name)\"" : encodedWords(name)) + " <\(address)>"
    }

    /// The value as is when it is printable ASCII, else RFC 2047 `=?UTF-8?B?…?=` words of at most 75 characters,
    /// split on character boundaries.
    static func encodedWords(_ value: String) -> String {
        if value.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) { return value }
        var words: [String] = []
        var chunk: [UInt8] = []
        // 75 - "=?UTF-8?B?".count - "?=".count = 63 base64 characters = 45 bytes (a multiple of 3 keeps words independent).
        for character in value {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=") }
        return words.joined(separator: "\r\n ")
    }

    /// RFC 2045 quoted-printable lines (at most 76 characters, soft breaks with `=`), from text with any line ends.
    static func quotedPrintable(_ text: String) -> [String] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [String] = []
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            let bytes = Array(line.utf8)
            var current: [UInt8] = []
            for (index, byte) in bytes.enumerated() {
                let isLast = index == bytes.count - 1
                var token: [UInt8]
                let literal = (33...126).contains(byte) && byte != UInt8(ascii: "=")
                let space = (byte == 0x20 || byte == 0x09) && !isLast
                if literal || space {
                    token = [byte]
                } else {
                    token = [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
                }
                if current.count + token.count > 75 {
                    out.append(String(decoding: current + [UInt8(ascii: "=")], as: UTF8.self))
                    current = []
                }
                current += token
            }
            out.append(String(decoding: current, as: UTF8.self))
        }
        return out
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
