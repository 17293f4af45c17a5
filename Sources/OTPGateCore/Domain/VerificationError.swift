/// Every way the engine refuses a request. The HTTP layers map each case to their own wire shape
/// (problem+json natively, a vendor's envelope in a compat profile); the engine never speaks HTTP.
public enum VerificationError: Error, Sendable, Equatable {
    case notFound
    case incorrectCode(attemptsRemaining: Int)
    case maxAttemptsReached
    case expired
    case alreadyApproved
    case canceled
    case resendCooldown(retryAfter: Duration)
    case maxSendsReached
    /// Too many starts to one destination in the window.
    case destinationRateLimited(retryAfter: Duration)
    /// Too many consecutive failed checks against one destination.
    case destinationLocked(retryAfter: Duration)
    /// Too many requests on one API key this second.
    case keyRateLimited(retryAfter: Duration)
    case idempotencyKeyReused
    case channelMismatch
    /// No provider serves this channel here (production with no gateway configured for it).
    case channelUnavailable(Channel)
    /// The phone number is outside the countries the tenant may send to (`Policy.allowedCountries`).
    case destinationNotAllowed
    /// Too many starts from one client (address or fingerprint) of the tenant in the window.
    case clientRateLimited(retryAfter: Duration)
    /// The number's prefix is held by the conversion guard (`PumpingGuard`): too many unanswered sends to it.
    case suspectedPumping(retryAfter: Duration)
    /// The tenant's send budget for the channel (a count or money, per day or month) is spent.
    case budgetExhausted(retryAfter: Duration)
    /// A test destination (fixed code, never delivered) on a production deployment that was not allowed there.
    case testDestinationNotAllowed
}
