#if canImport(Glibc)
import Glibc
#endif

/// The one place system calls are retried on EINTR.
public enum Syscall {
    /// Runs `call` until it returns something other than -1 with errno EINTR, and returns
    /// what it returned (on failure -1, with errno still set by the call). Inlinable: every
    /// module that calls it gets it specialized and inlined, with no generic integer code
    /// on the path of a sysfs read.
    @inlinable @inline(__always)
    public static func retrying<Result: FixedWidthInteger>(_ call: () -> Result) -> Result {
        while true {
            let result = call()
            if result == -1, errno == EINTR { continue }
            return result
        }
    }
}
