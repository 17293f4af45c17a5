public import Hummingbird
import OTPGateCore
public import OTPGateNativeAPI

/// Surepass's ITR and CKYC flows under `/api/v1/` (docs/compat/surepass.md): Bearer credential, the
/// `{data, status_code, message_code, message, success}` envelope, Surepass's ids and texts.
public struct SurepassProfile: CompatProfile {
    public let name = "surepass"
    public let pathPrefixes = ["/api/v1/"]
    let services: ProfileServices

    public init(services: ProfileServices) { self.services = services }

    public func errorResponse(for error: any Error, context: AppRequestContext) -> Response {
        SurepassReply.mapping(error, logger: context.logger).response
    }

    public func addRoutes(to router: Router<AppRequestContext>, authentication: ProfileAuthentication) {
        let api = router.group("api/v1").add(middleware: SurepassAuthentication(authentication: authentication))
        let itr = SurepassITR(services: services)
        api.post("itr/create-client") { try await itr.createClient($0, $1) }
        api.post("itr/generate-2fa") { try await itr.generate2FA($0, $1) }
        api.post("itr/submit-2fa") { try await itr.submit2FA($0, $1) }
        api.post("itr/check-credentials") { try await itr.checkCredentials($0, $1) }
        api.get("itr/itr-details/{client_id}") { try await itr.details($0, $1) }
        api.post("itr/itr-details") { try await itr.details($0, $1) }
        api.post("itr/download-itrv") { try await itr.downloadITRV($0, $1) }
        api.post("itr/download-itr-form") { try await itr.downloadITRForm($0, $1) }
        api.post("itr/download-ais-v2") { try await itr.ais($0, $1) }
        api.post("itr/get-ais") { try await itr.ais($0, $1) }
        api.post("itr/get-profile-details") { try await itr.profile($0, $1) }
        api.post("itr/forget-password") { try await itr.forgetPassword($0, $1) }
        api.post("itr/submit-otp") { try await itr.submitOTP($0, $1) }
        let ckyc = SurepassCKYC(services: services)
        api.post("ckyc/search") { try await ckyc.search($0, $1) }
        api.post("ckyc-v2/generate-otp") { try await ckyc.generateOTP($0, $1) }
        api.post("ckyc-v2/download") { try await ckyc.download($0, $1) }
        api.post("ckyc/v3/search/individual") { try await ckyc.searchV3($0, $1) }
        api.post("ckyc/v3/download/individual/initiate") { try await ckyc.initiateV3($0, $1) }
        api.post("ckyc/v3/download/individual") { try await ckyc.downloadV3($0, $1) }
    }
}

/// A Surepass credential on every `/api/v1/` call; anything else is Surepass's 401.
struct SurepassAuthentication: RouterMiddleware {
    typealias Context = AppRequestContext
    let authentication: ProfileAuthentication

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        switch try await authentication.authenticate(request, context: &context, profile: "surepass") {
        case .authenticated: return try await next(request, context)
        case .invalid: throw SurepassReply.unauthorized
        case .throttled(let wait):
            throw SurepassReply.rateLimited("rate_limit_exceeded", "Too many requests with an invalid token.", retryAfter: wait)
        }
    }
}
