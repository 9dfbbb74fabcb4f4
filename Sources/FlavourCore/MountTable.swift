/// What is mounted, from `/proc/self/mountinfo` (`fs/proc_namespace.c`, show_mountinfo:
/// `id parent major:minor root mountpoint options [optional...] - fstype source super`).
/// The major:minor field names the block device even when the source was given as
/// `/dev/disk/by-uuid/...` or `UUID=...`; btrfs subvolumes show an anonymous 0:N
/// there, so the source is kept too.
public struct MountTable: Hashable, Sendable {
    public struct Mount: Hashable, Sendable {
        public let majorMinor: String
        public let mountPoint: String
        public let source: String
        /// The filesystem type (`ext4`, `proc`).
        public var filesystem: String = ""
        /// The superblock's options (`rw,hidepid=invisible` for a service's procfs with
        /// ProtectProc=invisible).
        public var superOptions: String = ""
    }

    public let mounts: [Mount]

    public init(mounts: [Mount]) { self.mounts = mounts }

    public static func parse(mountinfo text: String) -> MountTable {
        MountTable(mounts: text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 7, let separator = fields.dropFirst(6).firstIndex(of: "-"),
                  separator + 2 < fields.count
            else { return nil }
            return Mount(
                majorMinor: String(fields[2]), mountPoint: ProcText.unescape(fields[4]),
                source: ProcText.unescape(fields[separator + 2]), filesystem: String(fields[separator + 1]),
                superOptions: separator + 3 < fields.count ? String(fields[separator + 3]) : "")
        })
    }

    /// The procfs mounted at `path` (the last such mount: a later one hides an earlier).
    public func procfs(at path: String) -> Mount? {
        mounts.last { $0.filesystem == "proc" && $0.mountPoint == path }
    }

    /// Mounts of the block device with this `dev` (major:minor) or devnode name.
    public func mounts(majorMinor: String, name: String) -> [Mount] {
        mounts.filter { $0.majorMinor == majorMinor || $0.source == "/dev/" + name }
    }
}
