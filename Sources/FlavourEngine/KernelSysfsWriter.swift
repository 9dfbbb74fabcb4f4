import FlavourPOSIX

#if canImport(Glibc)
import Glibc
#endif

/// Writes as `sd_device_set_sysattr_value` does: one write(2) of the value, no trailing
/// newline added, on O_WRONLY|O_TRUNC|O_CLOEXEC, retried on EINTR, capped at a page.
public struct KernelSysfsWriter: SysfsWriter {
    /// A sysfs store gets at most one page (`fs/sysfs/file.c`).
    public static let maximumLength = 4096

    public init() {}

    public func write(_ value: String, to path: String) throws(SysfsError) {
        try Self.write(value, to: path) { Syscall.retrying { open(path, Self.openFlags) } }
    }

    /// How an attribute is opened for writing; a link as its last component is refused.
    public static let openFlags = O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW

    /// The write itself, on a descriptor `open` gives (-1 with errno on failure): capped,
    /// one write(2), retried on EINTR, errors naming the path and the value.
    public static func write(_ value: String, to path: String, open: () -> Int32) throws(SysfsError) {
        guard value.utf8.count < Self.maximumLength else {
            throw SysfsError(.write, path: path, value: String(value.prefix(64)) + "...", errno: E2BIG)
        }
        let fd = open()
        guard fd >= 0 else { throw SysfsError(.write, path: path, value: value, errno: errno) }
        defer { close(fd) }
        var bytes = Array(value.utf8)
        let count = bytes.count
        let written = Syscall.retrying { bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, count) } }
        guard written >= 0 else { throw SysfsError(.write, path: path, value: value, errno: errno) }
        guard written == count else { throw SysfsError(.write, path: path, value: value, errno: EIO) }
    }
}
