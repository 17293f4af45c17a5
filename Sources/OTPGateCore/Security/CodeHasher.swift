import Crypto

/// Keyed hashing of codes: HMAC-SHA256 under a server secret, bound to the verification id, so a stolen
/// database reveals no codes and a hash cannot be replayed against another verification.
public struct CodeHasher: Sendable {
    private let key: SymmetricKey

    public init(secret: [UInt8]) { self.key = SymmetricKey(data: secret) }

    public func hash(code: String, verificationID: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("\(verificationID):\(code)".utf8), using: key))
    }
}

/// Compares two byte strings in time that depends only on their lengths.
public func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for (x, y) in zip(a, b) { difference |= x ^ y }
    return difference == 0
}
