#if canImport(Glibc)
import Glibc
#endif

/// The kernel's sysfs under an injectable root (`/sys` for users, a temporary tree in
/// tests). Paths are relative to the root and built only from validated names, so no
/// request can reach outside it.
public struct Sysfs: Sendable {
    public let root: String
    public let writer: any SysfsWriter

    public init(root: String = "/sys", writer: any SysfsWriter = KernelSysfsWriter()) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        self.writer = writer
    }

    public func path(_ relative: String) -> String { root + "/" + relative }

    /// Reads an attribute; one trailing newline is removed. `flags` are added to open(2)'s
    /// (O_NOFOLLOW: refuse a link as the last component).
    public func read(_ relative: String, flags: Int32 = 0) throws(SysfsError) -> String {
        let path = path(relative)
        let fd = Syscall.retrying { open(path, O_RDONLY | O_CLOEXEC | flags) }
        guard fd >= 0 else { throw SysfsError(.read, path: path, errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Syscall.retrying { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            guard count >= 0 else { throw SysfsError(.read, path: path, errno: errno) }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        if result.last == UInt8(ascii: "\n") { result.removeLast() }
        return String(decoding: result, as: UTF8.self)
    }

    public func write(_ value: String, to relative: String) throws(SysfsError) {
        try writer.write(value, to: path(relative))
    }

    /// The last component of a symlink's target (`driver` → `vfio-pci`), nil when absent.
    public func linkName(_ relative: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path(relative), &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.split(separator: "/").last.map(String.init)
    }

    public func exists(_ relative: String) -> Bool {
        var info = stat()
        return lstat(path(relative), &info) == 0
    }

    /// Names in a directory, sorted; empty when it does not exist.
    public func list(_ relative: String) -> [String] {
        guard let dir = opendir(path(relative)) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
