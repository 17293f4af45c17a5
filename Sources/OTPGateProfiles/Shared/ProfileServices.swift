public import OTPGateCore
public import OTPGateNativeAPI

/// What every vendor profile works with: the engine for OTPs, the records they release, their sessions, the
/// password pool, and the injected clock and randomness.
public struct ProfileServices: Sendable {
    public let engine: VerificationEngine
    public let records: RecordBook
    public let sessions: any ProfileSessionStore
    /// Signed requests already seen (Eko's replay guard).
    public let nonces: any RequestNonceStore
    public let passwords: PasswordCheckPool
    /// The longest a vendor session id (a `client_id`, a KwikID session) lives.
    public let sessionLifetime: Duration

    public init(
        engine: VerificationEngine, records: RecordBook, sessions: any ProfileSessionStore, nonces: any RequestNonceStore,
        passwords: PasswordCheckPool, sessionLifetime: Duration
    ) {
        self.nonces = nonces
        self.engine = engine
        self.records = records
        self.sessions = sessions
        self.passwords = passwords
        self.sessionLifetime = sessionLifetime
    }

    var clock: any Clock { engine.clock }
    var random: any RandomSource { engine.random }
    var now: Timestamp { engine.clock.now() }
}

/// The profiles this build serves, by credential profile name.
public enum Profiles {
    /// Every profile a credential can be created for (`otpgate credentials create --profile`).
    public static let names = ["surepass", "kwikid", "eko", "m2p"]

    public static func all(_ services: ProfileServices) -> [any CompatProfile] {
        [SurepassProfile(services: services), KwikIDProfile(services: services), EkoProfile(services: services), M2PProfile(services: services)]
    }
}
