#if canImport(Glibc)
import Glibc
#endif

/// An errno value as the errors a person reads show it: its name (`ENODEV`, in the
/// journal's ATTEMPTS and flavourctl's output) and strerror's text.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's errno, as the last failed call left it.
    public static var current: Errno { Errno(errno) }

    /// `ENODEV`; `errno 123` for a value without a name here.
    public var name: String { Self.name(rawValue) }

    /// strerror's text, `No such device`.
    public var message: String { Self.message(rawValue) }

    /// `No such device (errno 19)`.
    public var description: String {
        guard let text = strerror(rawValue) else { return "errno \(rawValue)" }
        return "\(String(cString: text)) (errno \(rawValue))"
    }

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
