extension VerificationClaims {
    /// The claims as the token's JSON payload and as introspection shows them: OIDC-style snake_case names, absent
    /// optionals left out, `context` exactly as the caller sent it (numbers keep their text).
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "iss": .string(iss),
            "sub": .string(sub),
            "tenant_id": .string(tenantID),
            "jti": .string(jti),
            "iat": .int(iat),
            "exp": .int(exp),
            "amr": .array(amr.map(JSONValue.string)),
        ]
        o["phone_number"] = phoneNumber.map(JSONValue.string)
        o["phone_number_verified"] = phoneNumberVerified.map(JSONValue.bool)
        o["email"] = email.map(JSONValue.string)
        o["email_verified"] = emailVerified.map(JSONValue.bool)
        o["purpose"] = purpose.map(JSONValue.string)
        o["context"] = context
        o["reference"] = reference.map(JSONValue.string)
        return .object(o)
    }

    /// Reads a token payload written by `json` (or by the earlier `Codable` form: the names are the same).
    public init(json: JSONValue) throws(JSONShapeError) {
        let f = try JSONFields(json)
        self.init(
            iss: try f.string("iss"), sub: try f.string("sub"), tenantID: try f.string("tenant_id"), jti: try f.string("jti"),
            iat: try f.int64("iat"), exp: try f.int64("exp"), phoneNumber: try f.optionalString("phone_number"),
            phoneNumberVerified: try f.optionalBool("phone_number_verified"), email: try f.optionalString("email"),
            emailVerified: try f.optionalBool("email_verified"), purpose: try f.optionalString("purpose"),
            context: f.optional("context"), reference: try f.optionalString("reference"), amr: try f.strings("amr"))
    }
}
