import Foundation
import OTPGateCore
import Testing

/// The hand-written JSON parser and serializer on the request and response paths.
@Suite struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let text = #"{"s":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","n":-12.5e2,"i":42,"z":0,"t":true,"f":false,"null":null,"a":[1,[],{}],"o":{"k":"v"}}"#
        let value = try JSONParser.parse(Array(text.utf8))
        #expect(value == .object([
            "s": .string("a\"b\\c/d\n\té😀"), "n": .number(-1250), "i": .number(42), "z": .number(0), "t": .bool(true), "f": .bool(false),
            "null": .null, "a": .array([.number(1), .array([]), .object([:])]), "o": .object(["k": .string("v")]),
        ]))
        // Whatever Foundation's decoder reads, the parser reads the same.
        #expect(value == (try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))))
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'x'", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
        "\"unterminated", "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "\"a\u{01}b\"", "[1] [2]", "NaN", "1e999",
    ])
    func refusesMalformedInput(text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(String(repeating: "[", count: 65).utf8) + Array(String(repeating: "]", count: 65).utf8)) }
        #expect((try? JSONParser.parse(Array(String(repeating: "[", count: 64).utf8) + Array(String(repeating: "]", count: 64).utf8))) != nil)
    }

    @Test func serializesCanonicallyAndRoundTrips() throws {
        let value = JSONValue.object(["b": .number(1.5), "a": .array([.string("x\"\n\u{01}"), .null, .bool(true), .number(-3)])])
        #expect(value.canonicalText == #"{"a":["x\"\n\u0001",null,true,-3],"b":1.5}"#)
        #expect(try JSONParser.parse(value.serialized) == value)
    }

    @Test func sealedPayloadsRoundTrip() throws {
        let payload = MessagePayload(destination: "+919876543210", code: "012345", purpose: "itr_unlock", locale: "hi-IN", ttlSeconds: 300)
        #expect(try MessagePayload(encoded: payload.encoded) == payload)
        let bare = MessagePayload(destination: "a@b.in", code: "9999", purpose: nil, locale: nil, ttlSeconds: 60)
        #expect(try MessagePayload(encoded: bare.encoded) == bare)
        #expect(throws: MessagePayloadError.self) { try MessagePayload(encoded: Array("2\u{1F}x".utf8)) }
    }
}
