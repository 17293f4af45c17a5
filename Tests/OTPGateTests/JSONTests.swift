import Foundation
import OTPGateCore
import Testing

/// The hand-written JSON parser and serializer: the only JSON path, in and out.
@Suite struct JSONTests {
    func parse(_ text: String) throws(JSONParser.Failure) -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func parsesEveryKindOfValue() throws {
        let text = #"{"s":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","n":-12.5e2,"i":42,"z":0,"t":true,"f":false,"null":null,"a":[1,[],{}],"o":{"k":"v"}}"#
        let value = try parse(text)
        let n = try #require(JSONNumber("-12.5e2"))
        #expect(
            value
                == .object([
                    "s": .string("a\"b\\c/d\n\té😀"), "n": .number(n), "i": .number(42), "z": .number(0),
                    "t": .bool(true), "f": .bool(false), "null": .null, "a": .array([.number(1), .array([]), .object([:])]),
                    "o": .object(["k": .string("v")]),
                ]))
        #expect(try JSONValue(parsing: text) == value)
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'x'", "01", "-01", "1.", ".5", "1.e5", "-", "--1", "- 1", "1e", "1e+",
        "+1", "0x10", "1_000", "tru", "nul", "NaN", "Infinity", "-Infinity", "\"unterminated", "\"ab\\", "\"\\x\"", "\"\\ud800\"",
        "\"\\udc00x\"", "\"a\u{01}b\"", "\"a\\n\u{01}\"", "[1] [2]",
        // A repeated key in text that is not JSON anyway is a syntax error, not a duplicate.
        "{\"a\":1,\"a\":2",
    ])
    func refusesMalformedInput(text: String) {
        #expect(throws: JSONParser.Failure.self) { try parse(text) }
        do { _ = try parse(text) } catch { #expect(error.duplicateKey == nil, "\(text)") }
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0x61, 0x5C, 0x6E, 0xFF, 0x22]) }
        #expect(throws: JSONParser.Failure.self) {
            try JSONParser.parse(Array(String(repeating: "[", count: 65).utf8) + Array(String(repeating: "]", count: 65).utf8))
        }
        #expect((try? JSONParser.parse(Array(String(repeating: "[", count: 64).utf8) + Array(String(repeating: "]", count: 64).utf8))) != nil)
    }

    /// RFC 8259 §4 leaves a repeated name undefined; readers that pick different copies can be played off each other.
    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "a", 7),
        (#"{"to":"x","context":{"amount":1,"amount":1}}"#, "amount", 32),
        (#"{"c":[{"k":1},{"k":{"z":1,"z":1}}]}"#, "z", 26),
        (#"{"a":1,"\u0061":2}"#, "a", 7),
        // The first repeat in the text is the one named.
        (#"{"a":{"b":1,"b":2},"a":3}"#, "b", 12),
        (#"{"a":1,"a":{"b":1,"b":2}}"#, "a", 7),
    ])
    func refusesARepeatedKeyAtAnyDepth(text: String, key: String, offset: Int) {
        do {
            _ = try parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.duplicateKey == key, "\(text)")
            #expect(error.offset == offset, "\(text)")
            #expect(error.description.contains("\"\(key)\""))
        }
    }

    @Test func theSameKeyInDifferentObjectsIsFine() throws {
        #expect(try parse(#"[{"a":1},{"a":1}]"#) == .array([.object(["a": .number(1)]), .object(["a": .number(1)])]))
        #expect(try parse(#"{"a":1,"b":{"a":2}}"#) == .object(["a": .number(1), "b": .object(["a": .number(2)])]))
    }

    @Test func numbersKeepTheirText() throws {
        let text = "[1.50,12345678901234567890,-0,1E5,1e400,0.1,-12.5e-2,1e-07,100,123456789012345678901234567890.000]"
        #expect(try parse(text).canonicalText == text)
        #expect(try parse(" { \"b\" : 1.0 , \"a\" : [ 2 ] } ").canonicalText == #"{"a":[2],"b":1.0}"#)
        // Equality is on the text, as on the wire.
        #expect(try parse("1.0") != parse("1"))
        #expect(JSONValue.number(1500) == .number(try #require(JSONNumber("1500"))))
    }

    @Test(
        arguments: [
            ("1", 1), ("-1", -1), ("-0", 0), ("1.0", 1), ("6E0", 6), ("60E-1", 6), ("0.6e1", 6), ("1e1", 10), ("1.5e1", 15), ("100e-2", 1),
            ("0.000", 0), ("0e400", 0), ("0e-99999999999999999999", 0), ("0.0000001e7", 1), ("1e18", 1_000_000_000_000_000_000),
            ("9223372036854775807", Int.max), ("-9223372036854775808", Int.min), ("922337203685477580.7e1", Int.max),
            ("6.5", nil), ("11e-1", nil), ("1e-400", nil), ("1e400", nil), ("1e19", nil), ("1e99999999999999999999", nil),
            ("9223372036854775808", nil), ("-9223372036854775809", nil), ("12345678901234567890", nil),
        ] as [(String, Int?)])
    func integersAreReadExactlyFromTheText(text: String, expected: Int?) throws {
        let number = try #require(JSONNumber(text))
        #expect(number.intValue == expected)
        #expect(Int(number) == expected)
        #expect(JSONValue.number(number).intValue == expected)
    }

    @Test func otherConversions() throws {
        #expect(JSONNumber("12345678901234567890")?.uint64Value == 12_345_678_901_234_567_890)
        #expect(JSONNumber("-1")?.uint64Value == nil)
        #expect(JSONNumber("9223372036854775807")?.int64Value == Int64.max)
        #expect(JSONNumber("1.50")?.doubleValue == 1.5)
        #expect(JSONNumber("1e400")?.doubleValue == .infinity)
        #expect(JSONValue.string("1").doubleValue == nil)
        #expect(JSONValue.int(Int64.max).canonicalText == "9223372036854775807")
        #expect(JSONValue.int(-5).canonicalText == "-5")
        #expect(JSONValue.double(1.5).canonicalText == "1.5")
        #expect(JSONValue.double(1e300).canonicalText == "1e+300")
        #expect(JSONValue.double(.nan) == .null)
        #expect(JSONNumber(Double.infinity) == nil)
        for text in ["", " 1", "1 ", "+1", "01", "1.", ".5", "NaN", "0x1", "1e", "--1", "1,0"] {
            #expect(JSONNumber(text) == nil, "\(text)")
        }
    }

    @Test func serializesCanonicallyAndRoundTrips() throws {
        let value = JSONValue.object(["b": .double(1.5), "a": .array([.string("x\"\n\u{01}\\/é\t\r"), .null, .bool(true), .int(-3)])])
        #expect(value.canonicalText == #"{"a":["x\"\n\u0001\\/é\t\r",null,true,-3],"b":1.5}"#)
        #expect(try JSONParser.parse(value.serialized) == value)
        let long = JSONValue.string(String(repeating: "abc", count: 100) + "\u{1F}" + String(repeating: "é", count: 50))
        #expect(try JSONParser.parse(long.serialized) == long)
    }

    @Test func sealedPayloadsRoundTrip() throws {
        let payload = MessagePayload(destination: "+919876543210", code: "012345", purpose: "itr_unlock", locale: "hi-IN", ttlSeconds: 300)
        #expect(try MessagePayload(encoded: payload.encoded) == payload)
        let bare = MessagePayload(destination: "a@b.in", code: "9999", purpose: nil, locale: nil, ttlSeconds: 60)
        #expect(try MessagePayload(encoded: bare.encoded) == bare)
        #expect(throws: MessagePayloadError.self) { try MessagePayload(encoded: Array("2\u{1F}x".utf8)) }
    }
}

/// The stored and signed forms: the names the earlier `Codable` forms used, so what is already stored still reads.
@Suite struct JSONCodecTests {
    let verification = Verification(
        id: "vrf_1", tenantID: "ten_1", channel: .sms, destination: "+919876543210", purpose: "itr/unlock", locale: nil, reference: "r\"1",
        context: #"{"amount":1.50,"big":12345678901234567890}"#, codeLength: 6, codeHash: Data([1, 2, 3]), state: .pending, attempts: 1,
        maxAttempts: 5, sends: 1, maxSends: 5, ttlSeconds: 300, createdAt: Timestamp(milliseconds: 1_800_000_000_123),
        expiresAt: Timestamp(milliseconds: 1_800_000_300_123), lastSentAt: Timestamp(milliseconds: 1_800_000_000_123),
        resendAvailableAt: Timestamp(milliseconds: 1_800_000_030_123), updatedAt: Timestamp(milliseconds: 1_800_000_000_456))

    /// A snapshot carries the personal fields only sealed, with the blind index: never the destination, reference or
    /// context in clear.
    @Test func verificationSnapshotsRoundTripWithoutSecretsOrClearPersonalFields() throws {
        var sealed = verification
        (sealed.destinationKey, sealed.sealedFields) = ("bi1:00ff", Data([1, 2, 3]))
        #expect(
            sealed.snapshotJSON
                == #"{"attempts":1,"channel":"sms","codeHash":"","codeLength":6,"createdAt":1800000000123,"destination":"","destinationKey":"bi1:00ff","expiresAt":1800000300123,"id":"vrf_1","lastSentAt":1800000000123,"maxAttempts":5,"maxSends":5,"purpose":"itr/unlock","resendAvailableAt":1800000030123,"sealedFields":"AQID","sends":1,"state":"pending","tenantID":"ten_1","ttlSeconds":300,"updatedAt":1800000000456}"#
        )
        var stored = sealed.withoutSecrets
        (stored.destination, stored.reference, stored.context) = ("", nil, nil)
        #expect(try Verification(snapshotJSON: sealed.snapshotJSON) == stored)
        var bare = stored
        (bare.purpose, bare.state) = (nil, .approved)
        #expect(try Verification(snapshotJSON: bare.snapshotJSON) == bare)
    }

    /// Exactly what `JSONEncoder().encode(v.withoutSecrets)` stored before (unsorted, `\/` escaped).
    @Test func verificationSnapshotsStoredByTheEarlierVersionStillRead() throws {
        let stored =
            #"{"attempts":1,"lastSentAt":1800000000123,"updatedAt":1800000000456,"purpose":"itr\/unlock","channel":"sms","id":"vrf_1","codeLength":6,"destination":"+919876543210","context":"{\"amount\":1.50,\"big\":12345678901234567890}","maxAttempts":5,"createdAt":1800000000123,"expiresAt":1800000300123,"state":"pending","maxSends":5,"sends":1,"reference":"r\"1","resendAvailableAt":1800000030123,"ttlSeconds":300,"codeHash":"","tenantID":"ten_1"}"#
        #expect(try Verification(snapshotJSON: stored) == verification.withoutSecrets)
        #expect(throws: (any Error).self) { try Verification(snapshotJSON: #"{"id":"vrf_1"}"#) }
        #expect(throws: (any Error).self) { try Verification(snapshotJSON: stored.replacingOccurrences(of: #""sms""#, with: #""fax""#)) }
        #expect(throws: (any Error).self) { try Verification(snapshotJSON: stored.replacingOccurrences(of: #""sends":1"#, with: #""sends":1.5"#)) }
    }

    @Test func policyOverridesKeepTheirStoredNames() throws {
        var overrides = PolicyOverrides()
        overrides.lockSeconds = 60
        overrides.startsPerDestination = 1
        #expect(overrides.jsonText == #"{"lock_seconds":60,"starts_per_destination":1}"#)
        #expect(try PolicyOverrides(jsonText: overrides.jsonText) == overrides)
        #expect(PolicyOverrides().jsonText == "{}")
        #expect(try PolicyOverrides(jsonText: "{}") == PolicyOverrides())
        var every = PolicyOverrides()
        (every.startsPerDestination, every.startWindowSeconds, every.failedChecksBeforeLock, every.lockSeconds) = (1, 2, 3, 4)
        (every.requestsPerKeyPerSecond, every.resendCooldownSeconds, every.maxSends, every.tokenTTLSeconds) = (5, 6, 7, 8)
        #expect(
            every.jsonText
                == #"{"failed_checks_before_lock":3,"lock_seconds":4,"max_sends":7,"requests_per_key_per_second":5,"resend_cooldown_seconds":6,"start_window_seconds":2,"starts_per_destination":1,"token_ttl_seconds":8}"#
        )
        #expect(try PolicyOverrides(jsonText: every.jsonText) == every)
        // As the Codable form read them: null is unset, unknown names are ignored, a wrong type is an error.
        #expect(try PolicyOverrides(jsonText: #"{"lock_seconds":null,"later":true,"max_sends":3}"#).maxSends == 3)
        #expect(throws: JSONShapeError(field: "lock_seconds", "expected an integer")) { try PolicyOverrides(jsonText: #"{"lock_seconds":"60"}"#) }
        #expect(throws: JSONShapeError(field: "lock_seconds", "expected an integer")) { try PolicyOverrides(jsonText: #"{"lock_seconds":1.5}"#) }
        #expect(throws: JSONParser.Failure.self) { try PolicyOverrides(jsonText: #"{"lock_seconds":1,"lock_seconds":2}"#) }
    }

    @Test func tokenClaimsUseTheirOIDCNamesAndKeepTheContextExact() throws {
        let claims = VerificationClaims(
            iss: "https://otp.example.in", sub: "vrf_1", tenantID: "ten_1", jti: "tok_1", iat: 1_800_000_000, exp: 1_800_000_300,
            phoneNumber: "+919876543210", phoneNumberVerified: true, purpose: "p",
            context: try JSONValue(parsing: #"{"amount":1.50,"big":12345678901234567890}"#), amr: ["otp", "sms"])
        #expect(
            claims.json.canonicalText
                == #"{"amr":["otp","sms"],"context":{"amount":1.50,"big":12345678901234567890},"exp":1800000300,"iat":1800000000,"iss":"https://otp.example.in","jti":"tok_1","phone_number":"+919876543210","phone_number_verified":true,"purpose":"p","sub":"vrf_1","tenant_id":"ten_1"}"#
        )
        #expect(try VerificationClaims(json: JSONValue(parsing: claims.json.canonicalText)) == claims)
        let email = VerificationClaims(
            iss: "i", sub: "s", tenantID: "t", jti: "j", iat: 1, exp: 2, email: "a@b.in", emailVerified: true, reference: "r", amr: ["otp", "email"])
        #expect(
            email.json.canonicalText
                == #"{"amr":["otp","email"],"email":"a@b.in","email_verified":true,"exp":2,"iat":1,"iss":"i","jti":"j","reference":"r","sub":"s","tenant_id":"t"}"#
        )
        #expect(try VerificationClaims(json: email.json) == email)
        #expect(throws: JSONShapeError(field: "iat", "is required")) {
            try VerificationClaims(json: JSONValue(parsing: #"{"amr":[],"exp":2,"iss":"i","jti":"j","sub":"s","tenant_id":"t"}"#))
        }
    }
}
