import FlavourPOSIX

#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads and directory listings for config and module files.
public enum FileSystem {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public let path: String
        public let errno: Int32
        public var description: String { "cannot read \(path): \(Errno.message(errno))" }
    }

    public static func read(_ path: String) throws(Error) -> [UInt8] {
        let fd = Syscall.retrying { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw Error(path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        var result = [UInt8]()
        result.reserveCapacity(size + 1)
        var buffer = [UInt8](repeating: 0, count: max(65536, size + 1))
        while true {
            let count = Syscall.retrying { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            guard count >= 0 else { throw Error(path: path, errno: errno) }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return result
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Whether `path` is a directory (a link to one counts).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// `mkdir -p` with mode 0755: a run directory may not exist yet (a fresh /run, a new
    /// --run-dir). Best effort; the open that follows reports what went wrong.
    public static func makeDirectories(_ path: String) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            mkdir(prefix, 0o755)
        }
    }

    /// File names in a directory, sorted bytewise (the lexical order config files are read in).
    public static func list(_ path: String) -> [String] {
        Sysfs(root: path).list("")
    }

    /// The names in a directory (`.` and `..` left out), unsorted, or the errno opendir(3)
    /// failed with.
    public static func entries(_ path: String) throws(Errno) -> [String] {
        guard let dir = opendir(path) else { throw Errno.current }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
