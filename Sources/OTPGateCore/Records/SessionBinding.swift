/// A vendor session write that rides in a start's transaction: the session that names the new verification (replacing
/// the tenant's session with that id if its verification is still `expected`), after recording a signed request's
/// replay-guard entry. A vendor flow's first send is then one transaction: replayed, lost to a concurrent restart, or
/// all of it (the session, the verification, its message).
public struct SessionBinding: Sendable, Equatable {
    public var session: ProfileSession
    public var expected: String?
    public var nonce: RequestNonce?

    public init(session: ProfileSession, expected: String?, nonce: RequestNonce?) {
        self.session = session
        self.expected = expected
        self.nonce = nonce
    }
}

/// Why a bound start wrote nothing.
public enum SessionBindingError: Error, Sendable, Equatable {
    /// The signed request was seen before inside its window.
    case replayed
    /// Another request restarted the session first: go on with its session.
    case sessionChanged
}
