/// The master key that wraps every shared secret (the data key, the code-hashing key, the signing keys), and during
/// a master-key rotation the previous one: secrets open under either, and are always sealed under the current one.
/// `otpgate master-key rotate` re-wraps whatever still opens only under the previous key.
public struct MasterKeyRing: Sendable {
    private let current: SecretBox
    private let previous: SecretBox?

    /// - Parameters:
    ///   - current: 32 bytes from `OTPGATE_MASTER_KEY` or the key file.
    ///   - previous: 32 bytes from `OTPGATE_MASTER_KEY_PREVIOUS`, while a rotation rolls out.
    public init(current: [UInt8], previous: [UInt8]? = nil) {
        self.current = SecretBox(masterKey: current, purpose: "secrets")
        self.previous = previous.map { SecretBox(masterKey: $0, purpose: "secrets") }
    }

    public var hasPrevious: Bool { previous != nil }

    public func seal(_ plaintext: [UInt8]) throws -> [UInt8] { try current.seal(plaintext) }

    public func open(_ sealed: [UInt8]) throws -> [UInt8] { try openReportingKey(sealed).plaintext }

    /// Opens `sealed` and says whether it needed the previous key (and so should be re-wrapped).
    public func openReportingKey(_ sealed: [UInt8]) throws -> (plaintext: [UInt8], usedPrevious: Bool) {
        if let plaintext = try? current.open(sealed) { return (plaintext, false) }
        if let previous, let plaintext = try? previous.open(sealed) { return (plaintext, true) }
        throw SecretBoxError.openFailed
    }
}
