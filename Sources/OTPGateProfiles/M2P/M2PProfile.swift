public import Hummingbird
import OTPGateCore
public import OTPGateNativeAPI

public struct M2PProfile: CompatProfile {
    public let name = "m2p"
    public let pathPrefixes = ["/auth/", "/prepaid/customer/v1/"]
    let services: ProfileServices

    public init(services: ProfileServices) { self.services = services }

    public func errorResponse(for error: any Error, context: AppRequestContext) -> Response {
        Response(status: .notFound)
    }

    public func addRoutes(to router: Router<AppRequestContext>, authentication: ProfileAuthentication) {}
}
