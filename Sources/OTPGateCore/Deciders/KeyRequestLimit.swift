/// A request counted against its API key's per-second request limit, in the store, by every instance alike.
public struct KeyRequest: Sendable, Equatable {
    public var keyID: String
    public var limitPerSecond: Int
    public var now: Timestamp

    public init(keyID: String, limitPerSecond: Int, now: Timestamp) {
        self.keyID = keyID
        self.limitPerSecond = limitPerSecond
        self.now = now
    }
}

/// The per-key request limit: a fixed one-second window per key, counted by the store in one atomic upsert
/// (a refused request still counts). The store keys its counter row by `scope` and `window`; the decision is here.
public enum KeyRequestLimit {
    /// The counter row a key's requests are counted in.
    public static func scope(keyID: String) -> String { "key:" + keyID }

    /// The one-second window a request falls in.
    public static func window(_ now: Timestamp) -> Int64 { now.milliseconds / 1000 }

    /// Refuses the request when it is past its key's limit in the current window; `count` includes this request.
    public static func refusal(count: Int, for request: KeyRequest) -> VerificationError? {
        guard count > request.limitPerSecond else { return nil }
        let nextWindow = Timestamp(milliseconds: (window(request.now) + 1) * 1000)
        return .keyRateLimited(retryAfter: nextWindow - request.now)
    }

    /// One key's share of a batch counted in one statement: how many requests, and the latest window among them.
    public struct BatchCount: Sendable, Equatable {
        public var count: Int
        public var window: Int64

        public init(count: Int, window: Int64) {
            self.count = count
            self.window = window
        }
    }

    /// What a batch adds to each key's counter (by key id).
    public static func batchCounts(_ requests: [KeyRequest?]) -> [String: BatchCount] {
        var counts: [String: BatchCount] = [:]
        for request in requests.compactMap({ $0 }) {
            let window = window(request.now)
            let seen = counts[request.keyID] ?? BatchCount(count: 0, window: window)
            counts[request.keyID] = BatchCount(count: seen.count + 1, window: max(seen.window, window))
        }
        return counts
    }

    /// Each request's refusal, given each key's counter after the whole batch was added (by key id). Requests
    /// count in batch order: the k-th of a key's n requests (from 0) held `total - n + 1 + k`.
    public static func refusals(_ requests: [KeyRequest?], counts: [String: BatchCount], totals: [String: Int]) -> [VerificationError?] {
        var position: [String: Int] = [:]
        return requests.map { request in
            guard let request, let counted = counts[request.keyID], let total = totals[request.keyID] else { return nil }
            let k = position[request.keyID, default: 0]
            position[request.keyID] = k + 1
            return refusal(count: total - counted.count + 1 + k, for: request)
        }
    }
}
