import Foundation

/// A thread of its own for a store's long-running loop (the batch writer, the checkpointer), named as `top -H`,
/// `perf` and `/proc/<pid>/task/*/comm` show it. Foundation's `Thread.name` does not reach the kernel on Linux (the
/// SQLite threads showed as `oot.default-qos`, like every idle dispatch worker), and Glibc's module does not export
/// `pthread_setname_np`; the kernel also takes the name from `/proc/thread-self/comm`.
enum NamedThread {
    /// Starts `body` on a new thread named `name` (at most 15 bytes: what the kernel keeps).
    static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        precondition(name.utf8.count <= 15, "the kernel keeps 15 bytes of a thread's name")
        Thread {
            nameCurrentThread(name)
            body()
        }
        .start()
    }

    /// A failure (no /proc) leaves the name as it was.
    private static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        _ = name.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
}
