public import Hummingbird
import OTPGateCore
public import OTPGateNativeAPI

/// KwikID's ITR verification API under `/verification/v2/` (docs/compat/kwikid.md).
public struct KwikIDProfile: CompatProfile {
    public let name = "kwikid"
    public let pathPrefixes = ["/verification/v2/"]
    let services: ProfileServices

    public init(services: ProfileServices) { self.services = services }

    public func errorResponse(for error: any Error, context: AppRequestContext) -> Response {
        KwikIDReply.mapping(error, logger: context.logger).response
    }

    public func addRoutes(to router: Router<AppRequestContext>, authentication: ProfileAuthentication) {
        let api = router.group("verification/v2/itr").add(middleware: KwikIDAuthentication(authentication: authentication))
        let itr = KwikIDITR(services: services)
        api.post("get_otp") { try await itr.getOTP($0, $1) }
        api.post("submit_otp") { try await itr.submitOTP($0, $1) }
        api.post("get_data") { try await itr.getData($0, $1) }
        api.post("get_data_by_assessment_year") { try await itr.getDataByYear($0, $1) }
        api.post("logout") { try await itr.logout($0, $1) }
    }
}

struct KwikIDAuthentication: RouterMiddleware {
    typealias Context = AppRequestContext
    let authentication: ProfileAuthentication

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        switch try await authentication.authenticate(request, context: &context, profile: "kwikid") {
        case .authenticated: return try await next(request, context)
        case .invalid: throw KwikIDReply.unauthorized("Invalid token")
        case .throttled(let wait): throw KwikIDReply.rateLimited(retryAfter: wait)
        }
    }
}
