public import Hummingbird
import OTPGateCore
public import OTPGateNativeAPI

/// M2P's prepaid OTP API at the full paths of its curl examples (`/prepaid/customer/v1/otp/...`) and its token endpoint
/// `/auth/token` (docs/compat/m2p.md).
public struct M2PProfile: CompatProfile {
    public let name = "m2p"
    public let pathPrefixes = ["/auth/", "/prepaid/customer/v1/"]
    let services: ProfileServices

    public init(services: ProfileServices) { self.services = services }

    public func errorResponse(for error: any Error, context: AppRequestContext) -> Response {
        M2PReply.mapping(error, logger: context.logger).response
    }

    public func addRoutes(to router: Router<AppRequestContext>, authentication: ProfileAuthentication) {
        let tokens = M2PAccessTokens(services: services, authentication: authentication)
        router.post("auth/token") { try await tokens.issue($0, $1) }
        let otp = M2POTP(services: services)
        let api = router.group("prepaid/customer/v1/otp").add(middleware: M2PAuthentication(tokens: tokens))
        api.post("generate") { try await otp.generate($0, $1) }
        api.post("validate-otp") { try await otp.validate($0, $1) }
    }

    public var nativeRoutes: [NativeRoute] {
        let check = M2PMessageHashCheck(services: services)
        return [NativeRoute(method: .post, path: "/v1/profiles/m2p/message-hash") { try await check.verify($0, $1) }]
    }
}
