import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Registers routes and remembers them, so a test can hold the served OpenAPI document to the real routes.
package final class RouteTable: Sendable {
    package struct Route: Hashable, Sendable {
        package let method: String
        package let path: String
    }

    private let table = Mutex<[Route]>([])

    package var all: [Route] { table.withLock { $0 } }

    typealias Handler = @Sendable (Request, AppRequestContext) async throws -> Response

    func get(_ group: RouterGroup<AppRequestContext>, _ path: String, use handler: @escaping Handler) {
        add(.get, group, path, handler)
    }

    func post(_ group: RouterGroup<AppRequestContext>, _ path: String, use handler: @escaping Handler) {
        add(.post, group, path, handler)
    }

    func get(_ router: Router<AppRequestContext>, _ path: String, use handler: @escaping Handler) {
        table.withLock { $0.append(Route(method: "get", path: path)) }
        router.on(RouterPath(Self.hummingbirdPath(path)), method: .get, use: handler)
    }

    func post(_ router: Router<AppRequestContext>, _ path: String, use handler: @escaping Handler) {
        table.withLock { $0.append(Route(method: "post", path: path)) }
        router.on(RouterPath(Self.hummingbirdPath(path)), method: .post, use: handler)
    }

    func add(_ method: HTTPRequest.Method, _ group: RouterGroup<AppRequestContext>, _ path: String, _ handler: @escaping Handler) {
        table.withLock { $0.append(Route(method: method.rawValue.lowercased(), path: path)) }
        // Groups are mounted at /v1; the table keeps full paths as OpenAPI writes them.
        let relative = path.hasPrefix("/v1") ? String(path.dropFirst(3)) : path
        group.on(RouterPath(Self.hummingbirdPath(relative)), method: method, use: handler)
    }

    /// OpenAPI writes `{id}`; Hummingbird's router takes `:id`.
    static func hummingbirdPath(_ path: String) -> String {
        path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
    }
}
