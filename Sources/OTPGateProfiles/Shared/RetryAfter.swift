/// A wait as the whole seconds a `Retry-After` header and a vendor message state: rounded up, at least 1.
func retryAfterSeconds(_ d: Duration) -> Int { max(1, Int((d + .milliseconds(999)).components.seconds)) }
