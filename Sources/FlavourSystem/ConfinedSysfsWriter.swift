import FlavourEngine
import FlavourPOSIX
import FlavourPlatform

#if canImport(Glibc)
import Glibc
#endif

/// Writes sysfs attributes as `KernelSysfsWriter` does, but opens each one beneath the
/// sysfs root with openat2(RESOLVE_BENEATH): a symlink in the path that leads out of the
/// root (a tree given as `--sysfs-root`, a bind mount gone wrong) is refused with EXDEV,
/// never followed. Paths outside the root, a root that cannot be opened, and kernels
/// without openat2 (before 5.6) get the plain open with O_NOFOLLOW.
public struct ConfinedSysfsWriter: SysfsWriter {
    private let root: BeneathDirectory?
    private let prefix: String

    public init(root: String) {
        let trimmed = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        self.root = BeneathDirectory(trimmed)
        prefix = trimmed == "/" ? "/" : trimmed + "/"
    }

    public func write(_ value: String, to path: String) throws(SysfsError) {
        guard let root, path.hasPrefix(prefix) else { return try KernelSysfsWriter().write(value, to: path) }
        let relative = String(path.dropFirst(prefix.count))
        try KernelSysfsWriter.write(value, to: path) {
            let fd = Syscall.retrying { root.open(relative, flags: KernelSysfsWriter.openFlags) }
            guard fd < 0, errno == ENOSYS else { return fd }
            return Syscall.retrying { open(path, KernelSysfsWriter.openFlags) }
        }
    }
}
