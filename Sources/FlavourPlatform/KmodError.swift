import FlavourPOSIX
import Glibc

/// A libkmod call that failed, with the module it was about and the errno it answered.
public struct KmodError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The module (or modules directory, for set-up) the call was about.
    public let module: String
    /// What was asked: `load`, `lookup`, `kmod_new`, `kmod_load_resources`, `dlopen`.
    public let operation: String
    public let errno: Int32
    /// What the dynamic loader said, for `dlopen` (it has no errno of its own).
    public let detail: String?

    public init(module: String, operation: String, errno: Int32, detail: String? = nil) {
        self.module = module
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let reason = Errno(errno).description
        if operation == "dlopen" {
            return "cannot open \(module): \(detail ?? reason); flavourd needs libkmod to load modules (install libkmod2)"
        }
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
