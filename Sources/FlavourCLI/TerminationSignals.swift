#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C in the middle of a bind would leave the device between two drivers. While a
/// change runs, the signals that end a terminal program wait; they arrive (and end the
/// program) once it is over and its outcome printed.
enum TerminationSignals {
    static func held<T>(_ body: () throws -> T) rethrows -> T {
        var held = sigset_t()
        var previous = sigset_t()
        sigemptyset(&held)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&held, signal) }
        pthread_sigmask(SIG_BLOCK, &held, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }
}
