import Hummingbird
import OTPGateCore
import OTPGateNativeAPI

/// `POST /v1/profiles/m2p/message-hash` on the native API: the tenant's backend, with its native API key, asks whether a
/// `messageHash` an M2P client presents is the one OTPGate returned for that trace's successful validate.
struct M2PMessageHashCheck {
    let services: ProfileServices

    func verify(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await JSONBody.read(request, context: context, allowed: ["trace_number", "message_hash"])
        let given = try body.requiredString("trace_number", maxLength: 64)
        let trace = Trace(number: given)?.number ?? given
        let presented = try body.requiredString("message_hash", maxLength: 128)
        try await services.engine.countRequest(principal: principal)
        let flow = ProfileFlow(services: services, profile: "m2p")
        guard let session = try await flow.session(trace, kinds: ["otp"], principal: principal),
            case let data = try flow.data(of: session),
            case .string(let ref)? = data["ref_number"], case .number(let at)? = data["validated_at"], let millis = at.int64Value
        else { return JSONResponse.make(.ok, .object(["valid": .bool(false)])) }
        let validatedAt = Timestamp(milliseconds: millis)
        let expected = M2PMessageHash.compute(
            cipher: services.engine.cipher, tenantID: principal.tenant.id, traceNumber: trace, refNumber: ref, validatedAt: validatedAt)
        guard constantTimeEquals(Array(expected.utf8), Array(presented.uppercased().utf8)) else {
            return JSONResponse.make(.ok, .object(["valid": .bool(false)]))
        }
        return JSONResponse.make(
            .ok,
            .object([
                "valid": .bool(true), "trace_number": .string(trace), "ref_number": .string(ref), "validated_at": .string(validatedAt.iso8601),
            ]))
    }
}
