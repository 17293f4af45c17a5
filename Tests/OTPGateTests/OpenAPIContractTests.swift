import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import OTPGateCore
import Testing

@testable import OTPGateServer

#if canImport(OTPGateNativeAPI)
    @testable import OTPGateNativeAPI
#endif

/// The served OpenAPI document against the server itself, through HTTP: the same document as JSON and as YAML,
/// exactly the registered routes, every problem code and every status an operation can answer (from
/// `ProblemCatalog`), and request examples that the server accepts. The document's own validity (OpenAPI 3.1) is
/// checked by `scripts/test.sh` with openapi-spec-validator before the Swift tests.
///
/// The document is parsed with the project's `JSONParser`; nothing here depends on how `JSONValue` holds numbers
/// (a number is only ever compared through its serialized text).
@Suite struct OpenAPIContractTests {
    /// Problem codes that say a request was malformed: a request example must never get one.
    static let validationCodes: Set<String> = [
        "malformed_json", "invalid_json", "unknown_field", "invalid_field", "invalid_header", "payload_too_large",
    ]

    @Test func theDocumentIsServedAsJSONAndAsYAML() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let json = try await client.client.execute(uri: "/openapi.json", method: .get)
            #expect(json.status == .ok)
            #expect(json.headers[.contentType]?.hasPrefix("application/json") == true, "\(String(describing: json.headers[.contentType]))")
            let document = try OpenAPIDocumentView(bytes: Array(json.body.readableBytesView))
            #expect(JSONNode.string(document.root["openapi"]) == "3.1.0")
            let paths = try #require(JSONNode.object(document.root["paths"]))
            #expect(!paths.isEmpty)

            let yaml = try await client.client.execute(uri: "/openapi.yaml", method: .get)
            #expect(yaml.status == .ok)
            let contentType = yaml.headers[.contentType] ?? ""
            #expect(contentType.hasPrefix("application/yaml"), "the YAML document is served as \(contentType)")
            let text = String(buffer: yaml.body)
            #expect(!text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{"), "/openapi.yaml serves JSON, not YAML")
            let lines = Set(text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(lines.contains(where: { $0.hasPrefix("openapi:") && $0.contains("3.1.0") }), "the YAML document does not declare openapi 3.1.0")
            #expect(lines.contains("paths:"))
            // The same paths, each as a key of its own line ("/v1/verifications:" or quoted).
            for path in paths.keys {
                #expect(
                    lines.contains("\(path):") || lines.contains("\"\(path)\":") || lines.contains("'\(path)':"),
                    "\(path) is in /openapi.json but not a key in /openapi.yaml")
            }
            // The same operations.
            for operation in document.operations {
                guard let id = JSONNode.string(operation.body["operationId"]) else {
                    Issue.record("\(operation.method) \(operation.path) has no operationId")
                    continue
                }
                #expect(
                    text.contains("operationId: \(id)\n") || text.contains("operationId: \"\(id)\"\n"),
                    "operationId \(id) is in /openapi.json but not in /openapi.yaml")
            }
        }
    }

    @Test func theDocumentDescribesExactlyTheRegisteredRoutes() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let document = try await Self.servedDocument(client)
            let served = Set(h.runtime.registeredRoutes.map { "\($0.method) \($0.path)" })
            let described = Set(document.operations.map { "\($0.method) \($0.path)" })
            #expect(!served.isEmpty)
            #expect(served.subtracting(described).isEmpty, "served but not documented: \(served.subtracting(described).sorted())")
            #expect(described.subtracting(served).isEmpty, "documented but not served: \(described.subtracting(served).sorted())")
            #expect(served.contains("get /openapi.json") && served.contains("get /openapi.yaml"))
        }
    }

    @Test func everyProblemCodeIsInTheProblemSchema() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let document = try await Self.servedDocument(client)
            let documented = document.problemCodes
            #expect(!documented.isEmpty, "the Problem schema has no code enum")
            let sent = Set(ProblemCatalog.all.map(\.code))
            #expect(!sent.isEmpty)
            #expect(
                sent.subtracting(documented).isEmpty,
                "codes the server sends but the document does not list: \(sent.subtracting(documented).sorted())")
            #expect(
                documented.subtracting(sent).isEmpty, "codes the document lists but the server never sends: \(documented.subtracting(sent).sorted())")
            #expect(documented.count == (JSONNode.array(document.problemCodeEnum)?.count ?? -1), "the code enum repeats a code")
        }
    }

    @Test func everyOperationDocumentsEveryStatusItCanAnswer() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let document = try await Self.servedDocument(client)
            let routes = Set(h.runtime.registeredRoutes.map { RouteKey(method: $0.method, path: $0.path) })
            for route in routes.sorted(by: { "\($0.method) \($0.path)" < "\($1.method) \($1.path)" }) {
                guard let operation = document.operation(method: route.method, path: route.path) else {
                    Issue.record("\(route.method) \(route.path) is not in the document")
                    continue
                }
                let documented = Set((JSONNode.object(operation["responses"]) ?? [:]).keys.compactMap { Int($0) })
                let possible = ProblemCatalog.statuses(method: route.method, path: route.path)
                let undocumented = possible.subtracting(documented)
                #expect(undocumented.isEmpty, "\(route.method) \(route.path) can answer \(undocumented.sorted()) but does not document it")
                // And no error status the server cannot send for this operation.
                let impossible = documented.filter { $0 >= 400 }.subtracting(possible)
                #expect(impossible.isEmpty, "\(route.method) \(route.path) documents \(impossible.sorted()), which it never answers")
            }
        }
    }

    @Test func everyErrorResponseIsAProblemWithMatchingExamples() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let document = try await Self.servedDocument(client)
            let codes = document.problemCodes
            let catalog = Set(ProblemCatalog.all.map { "\($0.code) \($0.status)" })
            for operation in document.operations {
                for (status, reference) in JSONNode.object(operation.body["responses"]) ?? [:] {
                    guard let code = Int(status), code >= 400 else { continue }
                    let place = "\(operation.method) \(operation.path) \(status)"
                    let response = JSONNode.object(document.resolve(reference))
                    guard let media = JSONNode.object(JSONNode.object(response?["content"])?["application/problem+json"]) else {
                        Issue.record("\(place) is not application/problem+json")
                        continue
                    }
                    #expect(JSONNode.string(JSONNode.object(media["schema"])?["$ref"]) == "#/components/schemas/Problem", "\(place): schema")
                    let examples = JSONNode.object(media["examples"]) ?? [:]
                    #expect(!examples.isEmpty, "\(place) has no example")
                    for (name, example) in examples {
                        guard let value = JSONNode.object(JSONNode.object(document.resolve(example))?["value"]),
                            let problemCode = JSONNode.string(value["code"])
                        else {
                            Issue.record("\(place) example \(name) is not a problem")
                            continue
                        }
                        #expect(codes.contains(problemCode), "\(place) example \(name): \(problemCode) is not in the code enum")
                        #expect(
                            value["status"]?.canonicalText == status, "\(place) example \(name): status \(value["status"]?.canonicalText ?? "none")")
                        #expect(JSONNode.string(value["type"]) == "urn:otpgate:problem:\(problemCode)", "\(place) example \(name): type")
                        #expect(
                            catalog.contains("\(problemCode) \(status)"),
                            "\(place) example \(name): the server never sends \(problemCode) with \(status)")
                    }
                }
            }
        }
    }

    @Test func everyRequestBodyHasExamplesTheServerAccepts() async throws {
        let h = try await Harness.make()
        try await h.test { client in
            let document = try await Self.servedDocument(client)
            var destinations = 0
            var bodies = 0
            for operation in document.operations {
                guard let requestBody = operation.body["requestBody"] else { continue }
                let place = "\(operation.method) \(operation.path)"
                let content = JSONNode.object(JSONNode.object(document.resolve(requestBody))?["content"])
                guard let media = JSONNode.object(content?["application/json"]) else {
                    Issue.record("\(place): the request body is not application/json")
                    continue
                }
                // The request schema is closed, as the server is: it refuses unknown fields.
                let schema = JSONNode.object(document.resolve(media["schema"])) ?? [:]
                #expect(schema["additionalProperties"] == .bool(false), "\(place): the request schema does not refuse other fields")
                let properties = Set((JSONNode.object(schema["properties"]) ?? [:]).keys)
                let required = Set((JSONNode.array(schema["required"]) ?? []).compactMap { JSONNode.string($0) })

                var values: [(name: String, value: JSONValue)] = []
                if let example = media["example"] { values.append(("example", example)) }
                for (name, example) in JSONNode.object(media["examples"]) ?? [:] {
                    guard let value = JSONNode.object(document.resolve(example))?["value"] else {
                        Issue.record("\(place) example \(name) has no value")
                        continue
                    }
                    values.append((name, value))
                }
                #expect(!values.isEmpty, "\(place) has no request example")

                for (name, value) in values {
                    guard let fields = JSONNode.object(value) else {
                        Issue.record("\(place) example \(name) is not a JSON object")
                        continue
                    }
                    let keys = Set(fields.keys)
                    #expect(
                        keys.subtracting(properties).isEmpty,
                        "\(place) example \(name) has fields the schema lacks: \(keys.subtracting(properties).sorted())")
                    #expect(required.subtracting(keys).isEmpty, "\(place) example \(name) lacks \(required.subtracting(keys).sorted())")

                    // The server takes it: a fresh verification for each example on a verification's path.
                    var path = operation.path
                    if path.contains("{id}") {
                        destinations += 1
                        let id = try await client.start(to: "+9198000" + String(format: "%05d", destinations))
                        path = path.replacingOccurrences(of: "{id}", with: id)
                    }
                    // Other path parameters take the parameter's example named like this body example (a template's
                    // purpose, locale and channel must fit its fields), else its single example.
                    for parameter in JSONNode.array(operation.body["parameters"]) ?? [] {
                        guard let parameter = JSONNode.object(document.resolve(parameter)), JSONNode.string(parameter["in"]) == "path",
                            let key = JSONNode.string(parameter["name"]), key != "id"
                        else { continue }
                        let named = JSONNode.object(document.resolve(JSONNode.object(parameter["examples"])?[name]))?["value"]
                        guard let filler = JSONNode.string(named ?? parameter["example"]) else {
                            Issue.record("\(place) example \(name): no example for the path parameter \(key)")
                            continue
                        }
                        path = path.replacingOccurrences(of: "{\(key)}", with: filler)
                    }
                    #expect(!path.contains("{"), "\(place) example \(name): \(path) still has a parameter")
                    let method = try #require(HTTPRequest.Method(operation.method.uppercased()))
                    let response = try await client.call(method, path, json: value.canonicalText)
                    bodies += 1
                    let code = response.problemCode ?? ""
                    #expect(!Self.validationCodes.contains(code), "\(place) example \(name) is refused: \(code)")
                    #expect(
                        ![400, 401, 404, 413].contains(Int(response.status.code)) && response.status.code < 500,
                        "\(place) example \(name) answered \(response.status) \(code)")
                }
            }
            #expect(bodies > 0)
        }
    }

    /// GET /openapi.json, parsed with the project's parser.
    static func servedDocument(_ client: TestClient) async throws -> OpenAPIDocumentView {
        let response = try await client.client.execute(uri: "/openapi.json", method: .get)
        #expect(response.status == .ok)
        return try OpenAPIDocumentView(bytes: Array(response.body.readableBytesView))
    }
}

private struct RouteKey: Hashable {
    let method: String
    let path: String
}

/// Reads a parsed `JSONValue` by shape only, so the tests do not depend on how numbers are held.
enum JSONNode {
    static func object(_ value: JSONValue?) -> [String: JSONValue]? {
        if case .object(let object)? = value { return object }
        return nil
    }

    static func array(_ value: JSONValue?) -> [JSONValue]? {
        if case .array(let array)? = value { return array }
        return nil
    }

    static func string(_ value: JSONValue?) -> String? {
        if case .string(let string)? = value { return string }
        return nil
    }
}

/// The served document, with its local `$ref`s followed on request.
struct OpenAPIDocumentView: Sendable {
    struct DocumentOperation: Sendable {
        let method: String
        let path: String
        let body: [String: JSONValue]
    }

    static let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    let root: [String: JSONValue]

    init(bytes: [UInt8]) throws {
        guard case .object(let root) = try JSONParser.parse(bytes) else { throw TestFailure("the OpenAPI document is not a JSON object") }
        self.root = root
    }

    /// Every operation under `paths`, as (lowercased method, path, operation object).
    var operations: [DocumentOperation] {
        var result: [DocumentOperation] = []
        for (path, item) in JSONNode.object(root["paths"]) ?? [:] {
            for (method, body) in JSONNode.object(resolve(item)) ?? [:] where Self.methods.contains(method) {
                if let body = JSONNode.object(body) { result.append(DocumentOperation(method: method, path: path, body: body)) }
            }
        }
        return result.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }

    func operation(method: String, path: String) -> [String: JSONValue]? {
        JSONNode.object(JSONNode.object(resolve(JSONNode.object(root["paths"])?[path]))?[method])
    }

    /// `components.schemas.Problem.properties.code.enum`.
    var problemCodeEnum: JSONValue? {
        let problem = JSONNode.object(resolve(value(at: "components/schemas/Problem")))
        let code = JSONNode.object(resolve(JSONNode.object(problem?["properties"])?["code"]))
        return code?["enum"]
    }

    var problemCodes: Set<String> { Set((JSONNode.array(problemCodeEnum) ?? []).compactMap { JSONNode.string($0) }) }

    /// Follows local references (`#/components/...`) until a value that is not one.
    func resolve(_ value: JSONValue?) -> JSONValue? {
        var current = value
        for _ in 0..<16 {
            guard let reference = JSONNode.string(JSONNode.object(current)?["$ref"]), reference.hasPrefix("#/") else { return current }
            current = self.value(at: String(reference.dropFirst(2)))
        }
        return nil
    }

    /// The value at a JSON pointer without its leading `#/`.
    func value(at pointer: String) -> JSONValue? {
        var node: JSONValue? = .object(root)
        for part in pointer.split(separator: "/") {
            let key = part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            node = JSONNode.object(node)?[key]
        }
        return node
    }
}
