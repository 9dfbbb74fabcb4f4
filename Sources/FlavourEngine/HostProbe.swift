import FlavourCore
import FlavourPOSIX

/// What only the kernel can tell the in-use guard, which a tree of files standing in for
/// sysfs and procfs cannot model: what a `/proc/PID/fd/N` magic link leads to, who may list a
/// process's files, whether the kernel holds a block device exclusively, and which driver
/// runs a network interface (sysfs says so only for interfaces of a device). `KernelHostProbe`
/// asks the kernel; the test kernel answers from its model of processes, claims and drivers.
public protocol HostProbe: Sendable {
    /// The names in a directory of procfs (`/proc`, `/proc/PID/fd`), or the errno opening it
    /// failed with (EACCES for another user's files without the capabilities, ENOENT for a
    /// process that has exited).
    func entries(of directory: String) throws(Errno) -> [String]

    /// A link's target (readlink(2)): `/proc/PID/ns/net` reads `net:[4026531840]`, and only
    /// to a reader that may ptrace the process (`fs/proc/namespaces.c`, proc_ns_readlink).
    func link(at path: String) throws(Errno) -> String

    /// The device node `path` leads to (stat(2), following links, so `/proc/PID/fd/N` gives
    /// the open file); nil when it is no char or block device.
    func deviceNode(at path: String) throws(Errno) -> DeviceNumber?

    /// Opens block device `number` read-only with O_EXCL and closes it again: EBUSY while
    /// the kernel holds it exclusively (mounted, swap, md/dm, btrfs, ZFS, bcache, LIO,
    /// nvmet: `block/bdev.c`, bd_may_claim; open(2)). `name` is its node below /dev (the
    /// `DEVNAME` of its uevent).
    func openExclusively(_ number: DeviceNumber, name: String) -> ExclusiveOpen

    /// The driver of the network interface `name` in the reader's namespace, as ethtool
    /// reports it (ETHTOOL_GDRVINFO: `openvswitch` for Open vSwitch's internal ports,
    /// `net/openvswitch/vport-internal_dev.c`); nil when it cannot be asked.
    func driver(ofInterface name: String) -> String?
}

/// What an O_EXCL open of a block device said.
public enum ExclusiveOpen: Hashable, Sendable {
    /// It opened: nobody holds it exclusively.
    case free
    /// EBUSY: the kernel (or a process) holds it exclusively.
    case busy
    /// No medium (an empty drive): nothing can hold it.
    case noMedium
    /// The probe could not run: the node is missing or not that device, or open failed
    /// otherwise; `path` and `errno` say which.
    case failed(path: String, errno: Errno)
}
