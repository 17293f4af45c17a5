public import Logging
public import OTPGateCore

/// What a server is built from besides its settings; tests inject a clock, seeded randomness or a sender here.
public struct ServerDependencies: Sendable {
    public var clock: any Clock
    public var random: any RandomSource
    /// Overrides the sender chosen by `OTPGATE_DELIVERY`.
    public var sender: (any MessageSender)?
    public var logger: Logger
    /// Whether to run the outbox worker and sweeper (tests that drive them by hand turn this off).
    public var runBackgroundServices: Bool

    public init(
        clock: any Clock = SystemClock(), random: any RandomSource = SystemRandomSource(), sender: (any MessageSender)? = nil,
        logger: Logger = Logger(label: "otpgate"), runBackgroundServices: Bool = true
    ) {
        self.clock = clock
        self.random = random
        self.sender = sender
        self.logger = logger
        self.runBackgroundServices = runBackgroundServices
    }
}
