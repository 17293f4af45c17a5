/// The secrets every instance shares (the code-hashing key, the token signing keys), sealed under the master key.
public protocol SecretStore: Sendable {
    /// Stores `value` under `name` unless one is already there, and returns whichever is stored:
    /// the first instance to start wins and every other adopts its secret.
    func insertSecretIfAbsent(name: String, value: [UInt8], createdAt: Timestamp) async throws -> [UInt8]
    func secrets(prefix: String) async throws -> [(name: String, value: [UInt8])]
    /// Replaces a secret's stored value if it is still `expected` (a compare-and-swap: a master-key rotation that
    /// runs twice at once re-wraps each secret once); `false` if it had changed.
    func replaceSecret(name: String, expected: [UInt8], with value: [UInt8]) async throws -> Bool
}
