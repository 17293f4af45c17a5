/// The secrets every instance shares (the code-hashing key, the token signing keys), sealed under the master key.
public protocol SecretStore: Sendable {
    /// Stores `value` under `name` unless one is already there, and returns whichever is stored:
    /// the first instance to start wins and every other adopts its secret.
    func insertSecretIfAbsent(name: String, value: [UInt8], createdAt: Timestamp) async throws -> [UInt8]
    func secrets(prefix: String) async throws -> [(name: String, value: [UInt8])]
}
