import Crypto

/// Keyed hashing of codes: HMAC-SHA256 under a server secret, bound to the verification id, so a stolen
/// database reveals no codes and a hash cannot be replayed against another verification.
public struct CodeHasher: Sendable {
    /// The HMAC with its key already absorbed: each hash copies it instead of deriving the padded key again.
    private let keyed: HMAC<SHA256>

    public init(secret: [UInt8]) { self.keyed = HMAC(key: SymmetricKey(data: secret)) }

    public func hash(code: String, verificationID: String) -> [UInt8] {
        var message = Array(verificationID.utf8)
        message.append(UInt8(ascii: ":"))
        message.append(contentsOf: code.utf8)
        var mac = keyed
        mac.update(data: message)
        return Array(mac.finalize())
    }
}

/// Compares two byte strings in time that depends only on their lengths.
public func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for (x, y) in zip(a, b) { difference |= x ^ y }
    return difference == 0
}
