/// The tokens accepted once (`consume=true`), shared by every instance.
public protocol TokenLedger: Sendable {
    /// Records the token as used; `false` if it was already.
    func consume(_ token: ConsumedToken) async throws -> Bool
    func isConsumed(jti: String) async throws -> Bool
}
