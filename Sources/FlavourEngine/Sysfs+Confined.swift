#if canImport(Glibc)
import Glibc
#endif

/// Reads that follow symlinks only inside the sysfs root. Real sysfs links are relative
/// (`bus/pci/devices/X -> ../../../devices/pci0000:00/X`), so they are resolved against
/// the root by hand, one component at a time; a link that is absolute or climbs above
/// the root is refused rather than followed into the host's tree.
extension Sysfs {
    /// The link limit of `fs/namei.c` (MAXSYMLINKS).
    static let maxLinks = 40

    /// The path with every link resolved, relative to the root; nil when a component is
    /// missing, a link escapes the root, or links loop.
    public func resolveInside(_ relative: String) -> String? {
        var resolved: [Substring] = []
        var pending: [Substring] = relative.split(separator: "/").reversed()
        var links = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                guard !resolved.isEmpty else { return nil }
                resolved.removeLast()
                continue
            }
            let candidate = (resolved + [component]).joined(separator: "/")
            var info = stat()
            writer.accessed(.lstat)
            guard lstat(path(candidate), &info) == 0 else { return nil }
            guard info.st_mode & S_IFMT == S_IFLNK else {
                resolved.append(component)
                continue
            }
            links += 1
            guard links <= Self.maxLinks, let target = linkTarget(candidate), !target.hasPrefix("/") else { return nil }
            pending.append(contentsOf: target.split(separator: "/").reversed())
        }
        return resolved.joined(separator: "/")
    }

    /// Reads an attribute through `resolveInside`; nil when absent or outside the root.
    public func readInside(_ relative: String) -> String? {
        resolveInside(relative).flatMap { try? read($0) }
    }

    /// Reads the attribute `name` of a directory that is already resolved (returned by
    /// `resolveInside`, or reached through `subdirectories`, which lists no links): only
    /// the last component can be a link, and it is not followed. Nil when absent, a link,
    /// or unreadable. The cheap form of `readInside` for attributes read per bind.
    public func readEntry(_ name: String, of resolvedDirectory: String) -> String? {
        try? read(resolvedDirectory + "/" + name, flags: O_NOFOLLOW)
    }

    /// The real directories in a directory (no links, no files), sorted; a device's child
    /// devices among them. Read from readdir's d_type: no stat per entry.
    public func subdirectories(_ relative: String) -> [String] {
        writer.accessed(.listing)
        guard let dir = opendir(path(relative)) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Whether the path is a directory itself, not a link to one.
    public func isDirectory(_ relative: String) -> Bool {
        writer.accessed(.lstat)
        var info = stat()
        return lstat(path(relative), &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// A symlink's whole target, nil when it is not a link.
    func linkTarget(_ relative: String) -> String? {
        writer.accessed(.readlink)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
            let count = buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { readlink(path(relative), $0, buffer.count) }
            guard count > 0 else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
        }
    }
}
