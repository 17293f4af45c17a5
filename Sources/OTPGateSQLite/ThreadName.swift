import Foundation

/// Names the calling thread as `top -H`, `perf` and `/proc/<pid>/task/*/comm` show it. Foundation's `Thread.name`
/// does not reach the kernel on Linux (the SQLite threads showed as `oot.default-qos`, like every idle dispatch worker),
/// and Glibc's module does not export `pthread_setname_np`; the kernel also takes the name from
/// `/proc/thread-self/comm`. At most 15 bytes; a failure (no /proc) leaves the name as it was.
enum ThreadName {
    static func set(_ name: String) {
        precondition(name.utf8.count <= 15, "the kernel keeps 15 bytes of a thread's name")
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        _ = name.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
}
