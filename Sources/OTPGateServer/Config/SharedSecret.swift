public import OTPGateCore

/// A random secret every instance shares, stored in the store wrapped by the master key: the first instance to
/// start writes it, every other adopts it.
enum SharedSecret {
    /// The 32-byte data key under which personal fields are sealed and blind-indexed (`PersonalDataCipher`).
    static let dataKey = "data-key"
    /// The 32-byte key of the code hashes (`CodeHasher`).
    static let codeKey = "code-hmac"

    static func load(_ name: String, store: any SecretStore, master: MasterKeyRing, random: any RandomSource, now: Timestamp) async throws
        -> [UInt8]
    {
        let sealed = try await store.insertSecretIfAbsent(name: name, value: try master.seal(random.bytes(32)), createdAt: now)
        do {
            return try master.open(sealed)
        } catch {
            throw ConfigurationError(
                "the stored secret \(name) does not open under the master key (OTPGATE_MASTER_KEY, or OTPGATE_MASTER_KEY_PREVIOUS during a rotation)")
        }
    }
}

/// The cipher of `store`'s personal data, under its data key (created on first use, as at `serve`): what the command
/// line seals records and credential settings with.
public func loadDataCipher(store: any Store, settings: ServerSettings, random: any RandomSource = SystemRandomSource()) async throws
    -> PersonalDataCipher
{
    let master = try MasterKey.ring(settings: settings, random: random)
    let dataKey = try await SharedSecret.load(SharedSecret.dataKey, store: store, master: master, random: random, now: SystemClock().now())
    return PersonalDataCipher(dataKey: dataKey)
}
