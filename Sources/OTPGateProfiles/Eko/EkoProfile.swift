public import Hummingbird
import OTPGateCore
public import OTPGateNativeAPI

/// Eko's mobile OTP API under `/ekoapi/v3/` (Eko's sandbox prefix) and `/ekoicici/v3/` (production), so a client
/// switches by its base URL alone (docs/compat/eko.md).
public struct EkoProfile: CompatProfile {
    public let name = "eko"
    public let pathPrefixes = ["/ekoapi/v3/", "/ekoicici/v3/"]
    let services: ProfileServices

    public init(services: ProfileServices) { self.services = services }

    public func errorResponse(for error: any Error, context: AppRequestContext) -> Response {
        EkoReply.mapping(error, logger: context.logger).response
    }

    public func addRoutes(to router: Router<AppRequestContext>, authentication: ProfileAuthentication) {
        let otp = EkoMobileOTP(services: services)
        for prefix in ["ekoapi/v3", "ekoicici/v3"] {
            let api = router.group(RouterPath(prefix + "/tools/kyc/mobile/otp"))
                .add(middleware: EkoAuthentication(authentication: authentication, services: services))
            api.post { try await otp.send($0, $1) }
            api.put("verify") { try await otp.verify($0, $1) }
            api.get("validate-token") { try await otp.validateToken($0, $1) }
        }
    }
}
