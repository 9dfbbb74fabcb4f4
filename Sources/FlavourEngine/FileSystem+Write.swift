import FlavourPOSIX
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writing whole files: status.json and the persisted requests are replaced atomically, the
/// crash journal's record file is rewritten in place; both through `write(_:to:at:)`.
extension FileSystem {
    /// A file that could not be replaced; the old one, if any, is as it was.
    public struct WriteError: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public let path: String
        public let errno: Int32
        public var description: String { "cannot write \(path): \(Errno.message(errno)); it is unchanged" }
    }

    /// Replaces the file at `path` with `bytes`, so that a reader sees the old file or the
    /// new one, never a part of either: the bytes go to a new file beside it, created with
    /// O_EXCL|O_NOFOLLOW (no file or link already there is reused or followed), synced, and
    /// renamed over `path`, with exactly `mode` (the umask left out). On failure the new file
    /// is removed. `sync: false` skips the fsync, for files in memory (`/run`) that need
    /// only the rename's atomicity.
    public static func writeAtomically(
        _ bytes: [UInt8], to path: String, mode: mode_t = 0o644, sync: Bool = true
    ) throws(WriteError) {
        let temporary = temporaryPath(beside: path)
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var fd = Syscall.retrying { open(temporary, flags, mode) }
        if fd < 0, errno == EEXIST {
            // Left by a process with this pid that died mid-write; nobody else uses this name.
            unlink(temporary)
            fd = Syscall.retrying { open(temporary, flags, mode) }
        }
        guard fd >= 0 else { throw WriteError(path: path, errno: errno) }
        // The mode asked for, whatever the umask: the unit runs with UMask=0077, and
        // status.json must stay readable by every user (flavourctl status).
        var failure = Syscall.retrying { fchmod(fd, mode) } == 0 ? 0 : errno
        if failure == 0 { failure = write(bytes, to: fd, at: 0) }
        if failure == 0, sync, Syscall.retrying({ fsync(fd) }) != 0 { failure = errno }
        close(fd)
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        guard failure == 0 else {
            unlink(temporary)
            throw WriteError(path: path, errno: failure)
        }
    }

    /// Writes all of `bytes` at `offset`, retrying EINTR and short writes; 0, or the errno
    /// of the write that failed (ENOSPC when one wrote nothing).
    public static func write(_ bytes: [UInt8], to fd: Int32, at offset: Int) -> Int32 {
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let written = Syscall.retrying { pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done)) }
                if written < 0 { return errno }
                if written == 0 { return ENOSPC }
                done += written
            }
            return 0
        }
    }

    /// `.<name>.<pid>.<n>.tmp` beside `<name>`: a hidden file, which neither the config loader
    /// (`*.conf`), node_exporter's textfile collector (`*.prom`) nor node-feature-discovery
    /// (it skips dot files, `source/local/local.go`) reads half-written; never the same for two
    /// writers at once.
    static func temporaryPath(beside path: String) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        return "\(path[..<slash]).\(path[slash...]).\(getpid()).\(temporarySequence.add(1, ordering: .relaxed).oldValue).tmp"
    }

    private static let temporarySequence = Atomic<Int>(0)
}
