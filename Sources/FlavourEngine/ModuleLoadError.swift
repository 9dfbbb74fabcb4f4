import FlavourPOSIX

/// A module that could not be loaded: which, the errno, and libkmod's own words when it
/// gave them.
public struct ModuleLoadError: Error, Hashable, Sendable, CustomStringConvertible {
    public let module: String
    public let errno: Int32
    public let detail: String?

    public init(module: String, errno: Int32, detail: String? = nil) {
        self.module = module
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        detail ?? "loading module \(module) failed: \(Errno.message(errno))"
    }
}
