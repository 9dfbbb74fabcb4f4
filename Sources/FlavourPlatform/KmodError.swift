import FlavourPOSIX
import Glibc

/// A libkmod call that failed, with the module it was about and the errno it answered.
public struct KmodError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The module (or modules directory, for set-up) the call was about.
    public let module: String
    /// What was asked: `load`, `lookup`, `kmod_new`, `kmod_load_resources`.
    public let operation: String
    public let errno: Int32

    public init(module: String, operation: String, errno: Int32) {
        self.module = module
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        let reason = Errno(errno).description
        switch errno {
        case ENOENT where operation == "load":
            return "cannot load module \(module): \(reason); no such module in the modules directory (run depmod?)"
        case EPERM where operation == "load":
            return "cannot load module \(module): \(reason); loading modules needs CAP_SYS_MODULE (ProtectKernelModules= or a container?)"
        default:
            return "\(operation) \(module) failed: \(reason)"
        }
    }
}
