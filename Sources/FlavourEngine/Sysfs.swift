import FlavourPOSIX

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's sysfs under an injectable root (`/sys` for users, a temporary tree in
/// tests). Paths are relative to the root and built only from validated names, so no
/// request can reach outside it.
public struct Sysfs: Sendable {
    public let root: String
    public let writer: any SysfsWriter

    public init(root: String = DefaultPaths.sysfsRoot, writer: any SysfsWriter = KernelSysfsWriter()) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        self.writer = writer
    }

    public func path(_ relative: String) -> String { root + "/" + relative }

    /// Reads an attribute; one trailing newline is removed. `flags` are added to open(2)'s
    /// (O_NOFOLLOW: refuse a link as the last component).
    public func read(_ relative: String, flags: Int32 = 0) throws(SysfsError) -> String {
        let path = path(relative)
        writer.accessed(.read)
        let fd = Syscall.retrying { open(path, O_RDONLY | O_CLOEXEC | flags) }
        guard fd >= 0 else { throw SysfsError(.read, path: path, errno: errno) }
        defer { close(fd) }
        // A sysfs attribute is at most a page and comes whole from the first read; a read
        // that does not fill the buffer is the end (regular files read short only at EOF).
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer throws(SysfsError) -> String in
            var result: [UInt8] = []
            while true {
                let count = Syscall.retrying { Glibc.read(fd, buffer.baseAddress, buffer.count) }
                guard count >= 0 else { throw SysfsError(.read, path: path, errno: errno) }
                result.append(contentsOf: buffer[0..<count])
                if count < buffer.count { break }
            }
            if result.last == UInt8(ascii: "\n") { result.removeLast() }
            return String(decoding: result, as: UTF8.self)
        }
    }

    public func write(_ value: String, to relative: String) throws(SysfsError) {
        try writer.write(value, to: path(relative))
    }

    /// The last component of a symlink's target (`driver` → `vfio-pci`), nil when absent.
    public func linkName(_ relative: String) -> String? {
        writer.accessed(.readlink)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
            let count = buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { readlink(path(relative), $0, buffer.count) }
            guard count > 0 else { return nil }
            let target = UnsafeBufferPointer(rebasing: buffer[0..<count])
            let start = target.lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? 0
            return start < count ? String(decoding: UnsafeBufferPointer(rebasing: target[start...]), as: UTF8.self) : nil
        }
    }

    public func exists(_ relative: String) -> Bool {
        writer.accessed(.lstat)
        var info = stat()
        return lstat(path(relative), &info) == 0
    }

    /// Names in a directory, sorted; empty when it does not exist.
    public func list(_ relative: String) -> [String] {
        writer.accessed(.listing)
        return ((try? FileSystem.entries(path(relative))) ?? []).sorted()
    }
}
