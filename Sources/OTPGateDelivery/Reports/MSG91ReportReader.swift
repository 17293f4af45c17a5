import Foundation
public import OTPGateCore

/// MSG91's delivery-report webhook. MSG91 signs nothing, so the URL carries a secret token
/// (`/delivery-reports/msg91/<OTPGATE_MSG91_REPORT_TOKEN>`), compared in constant time, and a report only changes a
/// message OTPGate sent under that request id. Accepts the v3 JSON object (or an array of them) and the v2 form
/// (`data=<JSON array>` with `report` entries). Status `1` is delivered; 2, 9, 16, 17 and 25 are failures.
public struct MSG91ReportReader: DeliveryReportReader {
    public let provider = "msg91"
    let token: String

    public init(token: String) { self.token = token }

    static let failures: Set<String> = ["2", "9", "16", "17", "25"]

    public func reports(in request: DeliveryReportRequest, now: Timestamp) -> [DeliveryReport]? {
        guard let given = request.token, constantTimeEquals(Array(given.utf8), Array(token.utf8)) else { return nil }
        var text = String(decoding: request.body, as: UTF8.self)
        if text.hasPrefix("data=") { text = FormDecoding.decode(request.body).first { $0.0 == "data" }?.1 ?? "" }
        guard let value = try? JSONValue(parsing: text) else { return [] }
        var reports: [DeliveryReport] = []
        func read(_ item: JSONValue, requestID inherited: String?) {
            guard case .object(let o) = item else { return }
            let requestID: String? = if case .string(let id)? = o["requestId"] { id } else { inherited }
            if case .array(let entries)? = o["report"] {
                for entry in entries { read(entry, requestID: requestID) }
                return
            }
            guard let requestID, case .string(let status)? = o["status"] else { return }
            if status == "1" {
                reports.append(DeliveryReport(provider: provider, providerMessageID: requestID, delivered: true))
            } else if Self.failures.contains(status) {
                reports.append(DeliveryReport(provider: provider, providerMessageID: requestID, delivered: false, error: "msg91: status \(status)"))
            }
        }
        if case .array(let items) = value { for item in items { read(item, requestID: nil) } } else { read(value, requestID: nil) }
        return reports
    }
}
