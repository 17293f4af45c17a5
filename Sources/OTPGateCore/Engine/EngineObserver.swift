/// Hooks for counting what the engine does (Prometheus in the server). Never given a code or a destination.
public protocol EngineObserver: Sendable {
    func verificationStarted(channel: Channel)
    func verificationApproved(channel: Channel)
    func checkFailed(channel: Channel)
    func verificationsExpired(channel: Channel, count: Int)
}

public struct NoEngineObserver: EngineObserver {
    public init() {}
    public func verificationStarted(channel: Channel) {}
    public func verificationApproved(channel: Channel) {}
    public func checkFailed(channel: Channel) {}
    public func verificationsExpired(channel: Channel, count: Int) {}
}
