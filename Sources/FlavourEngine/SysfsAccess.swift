/// A kind of file-system operation flavourd makes on sysfs and procfs. Each costs a syscall
/// and a walk of kernfs; on a real kernel under TCG far more than on a temporary tree, so
/// the benchmark counts them per request (`SysfsWriter.accessed`) to predict the guest.
public enum SysfsAccess: Int, CaseIterable, Sendable {
    /// open + read + close of an attribute.
    case read
    /// A write to an attribute (the writer sees these itself).
    case write
    /// readlink(2): a `driver`, `iommu_group` or `physfn` link.
    case readlink
    /// lstat(2): whether a path exists, or is a directory.
    case lstat
    /// A directory listed (opendir + readdir).
    case listing
    /// A file under /proc read (the in-use guard's host tables, a process's files).
    case procRead
    /// A directory under /proc listed, or one of its links or nodes looked at (`HostProbe`).
    case procLook

    public var name: String {
        switch self {
        case .read: "reads"
        case .write: "writes"
        case .readlink: "readlinks"
        case .lstat: "lstats"
        case .listing: "listings"
        case .procRead: "/proc reads"
        case .procLook: "/proc looks"
        }
    }
}
