import HTTPTypes
import Hummingbird
import NIOCore
import OTPGateCore

/// Providers' delivery-report callbacks: `POST /delivery-reports/{provider}` (Twilio, the generic webhook), and
/// `POST /delivery-reports/{provider}/{token}` for a provider that signs nothing (MSG91). Outside `/v1`: a provider
/// holds no API key; each request is authenticated by the signature (or token) its provider documents.
struct DeliveryReportController: Sendable {
    let readers: [String: any DeliveryReportReader]
    let store: any DeliveryReportStore
    let clock: any Clock

    func addRoutes(to router: Router<AppRequestContext>, routes: RouteTable) {
        routes.post(router, "/delivery-reports/{provider}", use: receive)
        routes.post(router, "/delivery-reports/{provider}/{token}", use: receive)
    }

    @Sendable func receive(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let name = context.parameters.get("provider"), let reader = readers[name] else {
            throw Problem(ProblemCatalog.notFound, detail: "no delivery reports are configured for this provider")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 64 * 1024)
        } catch {
            throw Problem(ProblemCatalog.payloadTooLarge, detail: "the body exceeds 64 KiB")
        }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let report = DeliveryReportRequest(headers: headers, body: Array(buffer: body), token: context.parameters.get("token"))
        let now = clock.now()
        guard let reports = reader.reports(in: report, now: now) else {
            throw Problem(ProblemCatalog.unauthorized, detail: "the request does not carry a valid \(name) signature")
        }
        _ = try await store.recordDeliveryReports(reports, now: now)
        return Response(status: .noContent)
    }
}
