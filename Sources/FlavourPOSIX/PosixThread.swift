import Glibc

/// A detached pthread that runs one closure and ends. Used instead of Dispatch queues
/// for threads that sleep in the kernel (poll, read, a driver's probe), because any
/// libdispatch worker starts a 1 Hz pool monitor on Linux that never stops
/// (swift-corelibs-libdispatch, src/event/workqueue.c, `_dispatch_workq_init_once`).
///
/// The thread starts with every signal blocked, so process-directed signals are left
/// to the thread that waits for them (`SignalListener`).
public enum PosixThread {
    /// Starts `body` on a new detached thread named `name` (the kernel keeps 15 bytes).
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { argument in
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            PosixThread.nameCurrentThread(start.name)
            start.body()
            return nil
        }, box)
        // Out of threads (EAGAIN) is not something a daemon can carry on from.
        precondition(result == 0, "pthread_create failed for thread \(name): errno \(result)")
    }

    /// pthread_setname_np is not in Swift's Glibc module; its Linux implementation writes
    /// the same file. Best effort: the name is only for ps(1) and /proc.
    private static func nameCurrentThread(_ name: String) {
        let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    private final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}
