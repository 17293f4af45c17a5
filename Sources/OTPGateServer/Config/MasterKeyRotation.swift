public import OTPGateCore

/// Moves every shared secret (the data key, the code-hashing key, the signing keys) from the previous master key to
/// the current one. Only these small secrets are wrapped by the master key, so no row of personal data is touched,
/// and running instances keep working: each secret is replaced by a compare-and-swap on its old value, and any
/// instance started with both keys (`OTPGATE_MASTER_KEY` and `OTPGATE_MASTER_KEY_PREVIOUS`) opens either form.
public enum MasterKeyRotation {
    public struct Report: Sendable, Equatable {
        /// Secrets re-wrapped under the current key by this run.
        public var rewrapped: Int
        /// Secrets that were already under the current key.
        public var alreadyCurrent: Int
    }

    /// The secrets the master key wraps, by name prefix (the `secrets` table also holds plain markers, such as the
    /// default tenant's bootstrap record, which nothing wraps).
    static let wrappedPrefixes = [SharedSecret.codeKey, SharedSecret.dataKey, "signing-key:"]

    public static func rotate(store: any SecretStore, master: MasterKeyRing) async throws -> Report {
        var report = Report(rewrapped: 0, alreadyCurrent: 0)
        var wrapped: [(name: String, value: [UInt8])] = []
        for prefix in wrappedPrefixes { wrapped += try await store.secrets(prefix: prefix) }
        for (name, sealed) in wrapped {
            let opened: (plaintext: [UInt8], usedPrevious: Bool)
            do {
                opened = try master.openReportingKey(sealed)
            } catch {
                throw ConfigurationError(
                    "the stored secret \(name) opens under neither OTPGATE_MASTER_KEY nor OTPGATE_MASTER_KEY_PREVIOUS; nothing after it was changed")
            }
            guard opened.usedPrevious else {
                report.alreadyCurrent += 1
                continue
            }
            if try await store.replaceSecret(name: name, expected: sealed, with: try master.seal(opened.plaintext)) {
                report.rewrapped += 1
            } else {
                // Another rotation replaced it meanwhile; it is under the current key now.
                report.alreadyCurrent += 1
            }
        }
        return report
    }
}
