import FlavourEngine
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A new, empty directory for a test or a test kernel, removed with all it holds when the
/// value goes, and at exit when something still holds it then (a thread that outlives its
/// test, say).
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// `<base>/<prefix>-XXXXXX`; `base` is `TemporaryDirectory.base()` unless given.
    public init(prefix: String, base: String? = nil) throws(SysfsError) {
        let base = base ?? Self.base()
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SysfsError(.write, path: "\(base)/\(prefix)-XXXXXX", errno: errno) }
        path = String(cString: made)
        Self.live.withLock { _ = $0.insert(path) }
    }

    deinit {
        Tree.removeAll(path)
        Self.live.withLock { _ = $0.remove(path) }
    }

    /// `$TMPDIR` when set; else /dev/shm when it is writable and roomy, as ext4's inode
    /// allocation makes thousands of small rewrites slow and a real sysfs lives in memory
    /// too; else /tmp. Containers often give /dev/shm 64 MiB, less than a 1,000-device
    /// tree takes, hence the room check.
    public static func base() -> String {
        if let tmpdir = getenv("TMPDIR").map({ String(cString: $0) }), !tmpdir.isEmpty { return tmpdir }
        var fs = statvfs()
        guard access("/dev/shm", W_OK) == 0, statvfs("/dev/shm", &fs) == 0,
              UInt64(fs.f_bavail) * UInt64(fs.f_frsize) >= 1 << 30
        else { return "/tmp" }
        return "/dev/shm"
    }

    /// Directories not yet removed, removed at exit.
    private static let live: Mutex<Set<String>> = {
        atexit { TemporaryDirectory.live.withLock { $0 }.forEach(Tree.removeAll) }
        return Mutex([])
    }()
}
