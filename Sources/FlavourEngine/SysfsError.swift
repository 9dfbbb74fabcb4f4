#if canImport(Glibc)
import Glibc
#endif

/// A sysfs read or write that the kernel refused: the path, what was written, and errno.
public struct SysfsError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Operation: String, Sendable { case read, write, readlink, list }

    public let operation: Operation
    public let path: String
    public let value: String?
    public let errno: Int32

    public init(_ operation: Operation, path: String, value: String? = nil, errno: Int32) {
        self.operation = operation
        self.path = path
        self.value = value
        self.errno = errno
    }

    public var description: String {
        let what = value.map { "writing '\($0)' to" } ?? "\(operation.rawValue) of"
        return "\(what) \(path) failed: \(Errno.name(errno)) (\(Errno.message(errno)))"
    }
}

/// errno names and messages, for errors a person reads.
public enum Errno {
    public static func message(_ code: Int32) -> String { String(cString: strerror(code)) }

    public static func name(_ code: Int32) -> String {
        switch code {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case ENXIO: "ENXIO"
        case E2BIG: "E2BIG"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case EACCES: "EACCES"
        case EBUSY: "EBUSY"
        case EEXIST: "EEXIST"
        case ENODEV: "ENODEV"
        case ENOTDIR: "ENOTDIR"
        case EINVAL: "EINVAL"
        case ENOSPC: "ENOSPC"
        case EROFS: "EROFS"
        case ENAMETOOLONG: "ENAMETOOLONG"
        case ENOSYS: "ENOSYS"
        case ELOOP: "ELOOP"
        case ENOEXEC: "ENOEXEC"
        case ETIMEDOUT: "ETIMEDOUT"
        case EPROBE_DEFER: "EPROBE_DEFER"
        case ESRCH: "ESRCH"
        default: "errno \(code)"
        }
    }

    /// The kernel's internal "try again later" probe result (include/linux/errno.h).
    public static let probeDefer: Int32 = 517
}

private let EPROBE_DEFER: Int32 = Errno.probeDefer
