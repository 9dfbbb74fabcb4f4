import CFlavourShim
import Glibc

/// Opens files under a directory without ever leaving it: the kernel resolves the path
/// with RESOLVE_BENEATH (openat2(2)), so no symlink or `..` in it can reach outside, and
/// refuses with EXDEV instead. Used for every sysfs write under the sysfs root.
public final class BeneathDirectory: Sendable {
    public let path: String
    private let descriptor: Int32

    /// nil when the directory cannot be opened.
    public init?(_ path: String) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        self.path = path
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Opens `relative` (no leading `/`) beneath the directory; -1 with errno on failure,
    /// ENOSYS on kernels before 5.6. EAGAIN means a rename somewhere in the system raced
    /// with the lookup (openat2(2)): it is retried, a bounded number of times.
    public func open(_ relative: String, flags: Int32) -> Int32 {
        for _ in 0..<Self.raceRetries {
            let fd = flavour_open_beneath(descriptor, relative, flags)
            if fd >= 0 || (errno != EAGAIN && errno != EINTR) { return fd }
        }
        return flavour_open_beneath(descriptor, relative, flags)
    }

    static let raceRetries = 64
}
