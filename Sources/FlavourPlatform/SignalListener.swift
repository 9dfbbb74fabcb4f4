import CFlavourShim
import FlavourPOSIX
import Glibc
import Synchronization

/// Process signals read from a signalfd(2) by a thread of its own, which sleeps in
/// poll(2) until one arrives: no Dispatch signal source, so no libdispatch threads.
///
/// signalfd only sees signals that no thread would take: every thread must block them.
/// `block(_:)` does so for the main thread, first thing in `main`, and every thread
/// started later inherits the mask (`PosixThread` threads block all signals anyway).
public final class SignalListener: Sendable {
    private let signalDescriptor: Int32
    /// Becomes readable after `stop()`.
    private let stopDescriptor: Int32
    /// Whether the thread was started, and so owns (and closes) the descriptors.
    private let started = Mutex(false)

    /// Blocks `signals` in the calling thread (and so in threads it starts from now on).
    public static func block(_ signals: [Int32]) {
        var set = Self.set(of: signals)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Opens a signalfd for `signals`; they must already be blocked (`block(_:)`).
    public init(signals: [Int32]) throws(Errno) {
        var set = Self.set(of: signals)
        let descriptor = signalfd(-1, &set, Int32(SFD_CLOEXEC | SFD_NONBLOCK))
        if descriptor < 0 { throw Errno(errno) }
        let stop = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        if stop < 0 {
            let code = errno
            close(descriptor)
            throw Errno(code)
        }
        signalDescriptor = descriptor
        stopDescriptor = stop
    }

    deinit {
        if !started.withLock({ $0 }) {
            close(signalDescriptor)
            close(stopDescriptor)
        }
    }

    /// Calls `handler` with each signal's number, on the listener's thread, until `stop()`.
    public func start(_ handler: @escaping @Sendable (Int32) -> Void) {
        let first = started.withLock { started in
            defer { started = true }
            return !started
        }
        precondition(first, "SignalListener.start called twice")
        let signalDescriptor = signalDescriptor
        let stopDescriptor = stopDescriptor
        PosixThread.detach(name: "flavourd-signal") {
            defer {
                close(signalDescriptor)
                close(stopDescriptor)
            }
            var entries = [
                pollfd(fd: signalDescriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            while true {
                guard Syscall.retrying({ poll(&entries, 2, -1) }) > 0, entries[1].revents == 0 else { return }
                var info = signalfd_siginfo()
                let size = MemoryLayout<signalfd_siginfo>.size
                while Syscall.retrying({ read(signalDescriptor, &info, size) }) == size {
                    handler(Int32(bitPattern: info.ssi_signo))
                }
            }
        }
    }

    /// Ends the listener's thread; signals that arrive later stay pending (blocked).
    public func stop() {
        _ = Syscall.retrying { eventfd_write(stopDescriptor, 1) }
    }

    private static func set(of signals: [Int32]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }
}
