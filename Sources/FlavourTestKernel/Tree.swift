import FlavourEngine

#if canImport(Glibc)
import Glibc
#endif

/// File operations for the simulated sysfs tree; files and links are replaced by rename
/// so a concurrent reader never sees them half-written or missing.
enum Tree {
    static func makeDirectories(_ path: String) throws(SysfsError) {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0, errno != EEXIST { throw SysfsError(.write, path: current, errno: errno) }
        }
    }

    static func writeFile(_ path: String, _ contents: String) throws(SysfsError) {
        let temporary = path + ".tmp-\(pthread_self())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SysfsError(.write, path: path, errno: errno) }
        var bytes = Array(contents.utf8)
        let count = bytes.count
        let written = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, count) }
        close(fd)
        guard written == count, rename(temporary, path) == 0 else { throw SysfsError(.write, path: path, errno: errno) }
    }

    static func link(_ path: String, to target: String) throws(SysfsError) {
        let temporary = path + ".tmp-\(pthread_self())"
        unlink(temporary)
        guard symlink(target, temporary) == 0, rename(temporary, path) == 0 else {
            throw SysfsError(.write, path: path, errno: errno)
        }
    }

    static func removeAll(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in Sysfs(root: path).list("") { removeAll(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
