import Glibc

/// The one place system calls are retried on EINTR.
enum Syscall {
    /// Runs `call` until it returns something other than -1 with EINTR; returns its
    /// result, or the errno of a failure as a negative number.
    @inline(__always)
    static func retrying<Result: FixedWidthInteger>(_ call: () -> Result) -> Result {
        while true {
            let result = call()
            if result == -1 && errno == EINTR { continue }
            return result
        }
    }
}
