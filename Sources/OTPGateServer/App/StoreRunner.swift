public import OTPGateCore
import ServiceLifecycle

/// Runs a store's connection pool (a PostgreSQL store is a `Service`) around a piece of work, for the commands that
/// use the store briefly; `serve` runs it as a service of its `ServiceGroup` instead.
public enum StoreRunner {
    /// Runs `body` while the store's pool runs, then stops the pool and closes the store (also when `body` throws).
    public static func withRunning<T: Sendable>(_ store: any Store, _ body: @Sendable (any Store) async throws -> T) async throws -> T {
        do {
            let result = try await running(store, body)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    private static func running<T: Sendable>(_ store: any Store, _ body: @Sendable (any Store) async throws -> T) async throws -> T {
        guard let service = store as? any Service else { return try await body(store) }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            do {
                let result = try await body(store)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}
