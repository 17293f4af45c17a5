/// Numeric one-time codes drawn uniformly (rejection sampling, no modulo bias) from a `RandomSource`.
public struct CodeGenerator: Sendable {
    public let random: any RandomSource

    public init(random: any RandomSource) { self.random = random }

    /// A code of exactly `length` digits, leading zeros included.
    public func generate(length: Int) -> String {
        precondition(Policy.codeLengthRange.contains(length))
        var bound: UInt64 = 1
        for _ in 0..<length { bound *= 10 }
        let value = random.uniform(below: bound)
        let digits = String(value)
        return String(repeating: "0", count: length - digits.count) + digits
    }
}
