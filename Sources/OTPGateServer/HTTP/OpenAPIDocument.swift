/// The OpenAPI 3.1 description of the native API, served at `/openapi.json`.
/// `OpenAPITests` keeps its paths and operations in step with the registered routes.
enum OpenAPIDocument {
    static let json = #"""
{"openapi":"3.1.0","info":{"title":"OTPGate","version":"1.0.0"},"paths":{}}
"""#
}
