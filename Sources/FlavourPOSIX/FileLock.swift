#if canImport(Glibc)
import Glibc
#endif

/// Open file description locks (F_OFD_SETLK, Linux 3.15): byte ranges held by an open file,
/// not by a process, so two descriptors of one process conflict too, and the kernel drops
/// them when the last descriptor of the file closes, or the process dies. The crash and
/// request journals tell a live owner from a dead one by them.
public enum FileLock {
    /// Takes (`F_WRLCK`) or drops (`F_UNLCK`) the lock on one byte without waiting; false
    /// when another open file description holds a conflicting one.
    public static func set(_ fd: Int32, at offset: Int64, _ type: Int32) -> Bool {
        var range = flock()
        range.l_type = Int16(type)
        range.l_whence = Int16(SEEK_SET)
        range.l_start = off_t(offset)
        range.l_len = 1
        return Syscall.retrying { fcntl(fd, setOFDLock, &range) } == 0
    }

    /// F_OFD_SETLK, hidden from Swift's Glibc module behind _GNU_SOURCE.
    static let setOFDLock: Int32 = 37
}
