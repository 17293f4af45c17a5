import Logging
import OTPGateTokens
public import ServiceLifecycle

/// Re-reads the signing keys every `interval`, so a key added by `otpgate signing-key rotate` is known to (and
/// published by) every instance well before it becomes active. The keys themselves live in the store.
public struct SigningKeyRefresher: Service {
    /// Together with the JWKS `max-age` (300 s), the shortest notice a new key needs: `signing-key rotate` refuses less.
    public static let interval = Duration.seconds(60)
    public static let minimumNotice = Duration.seconds(600)

    let signer: JWTTokenSigner
    let logger: Logger

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: Self.interval)
                do {
                    try await signer.refresh()
                } catch {
                    logger.warning("signing keys could not be refreshed", metadata: ["error": .string(String(describing: error))])
                }
            }
        }
    }
}
