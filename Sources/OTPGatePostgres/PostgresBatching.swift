/// How starts and checks share transactions on PostgreSQL (group commit).
///
/// Each kind (starts, checks) runs at most `concurrentBatches` transactions at once per instance, each carrying up
/// to `maxBatch` requests; a request that finds a slot free runs at once on its own. More concurrent batches use
/// more connections and more PostgreSQL CPU per request; fewer make batches larger. docs/DEPLOYMENT.md has the
/// measurements behind the defaults.
public struct PostgresBatching: Sendable, Equatable {
    public var maxBatch: Int
    public var concurrentBatches: Int

    public init(maxBatch: Int = 64, concurrentBatches: Int = 2) {
        self.maxBatch = max(1, maxBatch)
        self.concurrentBatches = max(1, concurrentBatches)
    }
}
