import Foundation
import OTPGateCore
import Testing

/// `Timestamp.iso8601` writes its digits itself (issue 17: the format style was a visible share of a start); it must
/// say exactly what Foundation's ISO 8601 format style says, for every instant the API can render.
@Suite struct TimestampTests {
    static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt)

    @Test(
        arguments: [
            0, -1, 999, 1_000, 86_399_999, 86_400_000, -86_400_000, -86_400_001,
            951_782_400_000,  // 2000-02-29
            1_709_164_800_000,  // 2024-02-29
            1_709_251_199_999,  // 2024-02-29T23:59:59.999
            -2_203_891_200_000,  // 1900-03-01
            -62_167_219_200_000,  // 0000-01-01: Julian, the format style's own
            -11_676_096_000_000,  // 1600-01-01
            253_402_300_799_999,  // 9999-12-31T23:59:59.999
            253_402_300_800_000,  // 10000-01-01: the format style's own form
            1_800_000_300_000,
        ] as [Int64])
    func edgesRenderAsFoundationDoes(milliseconds: Int64) {
        let t = Timestamp(milliseconds: milliseconds)
        #expect(t.iso8601 == Self.style.format(t.date))
    }

    @Test func instantsOverTenThousandYearsRenderAsFoundationDoes() {
        var state: UInt64 = 17
        var mismatches: [Int64] = []
        for _ in 0..<5_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // Anywhere from 0000-01-01 to 9999-12-31.
            let milliseconds = Int64(state >> 8) % 315_569_520_000_000 - 62_167_219_200_000
            let t = Timestamp(milliseconds: milliseconds)
            if t.iso8601 != Self.style.format(t.date) { mismatches.append(milliseconds) }
        }
        #expect(mismatches.count == 0, "first: \(mismatches.prefix(5))")
        #expect(Timestamp(seconds: 1_800_000_000).iso8601 == "2027-01-15T08:00:00Z")
    }
}
