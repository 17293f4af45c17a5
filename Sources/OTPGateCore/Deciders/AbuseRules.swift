/// Who may be sent a code at all, and how often one client of a tenant may ask for one: rules a start meets before
/// anything is written (issue 16). The country rule is pure; the client limits count in the store's shared
/// fixed-window counters (`RequestCounters`), so every instance sees the same counts.
public enum AbuseRules {
    /// Refuses a phone number outside the allowed country calling codes (`*` allows any). Calling codes are prefix-free
    /// (ITU-T E.164), so a prefix test on the E.164 form is exact.
    public static func countryRefusal(_ destination: Destination, allowed: [String]) -> VerificationError? {
        guard destination.channel == .sms, !allowed.contains("*") else { return nil }
        for code in allowed where destination.value.hasPrefix("+" + code) { return nil }
        return .destinationNotAllowed
    }

    /// The end user's client as the tenant's backend saw it: its address and a device or browser fingerprint. Each is
    /// counted on its own, under a blind index (the store never holds either in clear).
    public struct Client: Sendable, Equatable {
        public var ip: String?
        public var fingerprint: String?

        public init(ip: String? = nil, fingerprint: String? = nil) {
            self.ip = ip
            self.fingerprint = fingerprint
        }
    }

    /// One counter to bump for a start: its scope (tenant, kind and blind index), window and limit.
    public struct ClientCount: Sendable, Equatable {
        public var scope: String
        /// The window, named by the second it ends: the sweeper drops counters whose window value is over a minute in
        /// the past, so a live client window (up to a day long) is never dropped, and an ended one soon is.
        public var window: Int64
        public var limit: Int
        public var windowEnd: Timestamp
    }

    /// The counters a start from `client` bumps, `blindIndex(kind, value)` naming each value.
    public static func clientCounts(_ client: Client, tenantID: String, policy: Policy, now: Timestamp, blindIndex: (String, String) -> String)
        -> [ClientCount]
    {
        let length = Int64(max(policy.clientWindowSeconds, 1)) * 1000
        let end = Timestamp(milliseconds: (now.milliseconds / length + 1) * length)
        let window = end.seconds
        var counts: [ClientCount] = []
        if let ip = client.ip {
            counts.append(
                ClientCount(
                    scope: "client-ip:\(tenantID):" + blindIndex("client-ip", ip), window: window, limit: policy.startsPerClientIP, windowEnd: end))
        }
        if let fingerprint = client.fingerprint {
            counts.append(
                ClientCount(
                    scope: "client-fp:\(tenantID):" + blindIndex("client-fingerprint", fingerprint), window: window,
                    limit: policy.startsPerClientFingerprint, windowEnd: end))
        }
        return counts
    }

    /// Refuses a start whose client is past its limit in the current window (`count` includes this start).
    public static func clientRefusal(count: Int, for counter: ClientCount, now: Timestamp) -> VerificationError? {
        guard count > counter.limit else { return nil }
        return .clientRateLimited(retryAfter: max(counter.windowEnd - now, .seconds(1)))
    }
}
