import FlavourPOSIX

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
