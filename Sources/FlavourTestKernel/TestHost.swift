import FlavourCore

/// What the simulated host uses: interfaces and their addresses and routes, block
/// devices and their mounts, swap and holders. Rendered into `<root>/proc` and into
/// the sysfs tree by `TestKernel+Host`.
struct TestHost {
    struct Interface {
        /// Absolute path of its sysfs directory.
        var directory: String
        var up: Bool
        var routes: [TestRoute]
        /// IPv6 addresses in text form (`fd00::2`).
        var ipv6: [String]
        /// Unique in its namespace; `lo` is 1.
        var ifindex = 0
        /// The lower device's ifindex for a macvlan or ipvlan, else its own.
        var iflink = 0
    }

    struct BlockDevice {
        /// Absolute path of its sysfs directory.
        var directory: String
        var number: DeviceNumber
        var majorMinor: String { number.description }
    }

    /// A process and what it holds open (`/proc/PID/fd`).
    struct Process {
        var comm: String
        var files: [Int32: OpenFile]
        /// Listing its `fd/` fails with EACCES, as another user's does for a reader
        /// without CAP_DAC_READ_SEARCH.
        var filesHidden = false
    }

    enum OpenFile {
        /// A device node, opened by this path in the process's `/dev`.
        case node(DeviceNumber, path: String)
        /// Anything else (`socket:[4242]`, `/var/log/syslog`).
        case other(String)
    }

    struct Mount {
        var block: String
        var mountPoint: String
        var source: String
        var filesystem = "ext4"
    }

    var interfaces: [String: Interface] = [:]
    var nextIfindex = 2
    /// Interface names in the order they were set, for stable /proc files.
    var interfaceOrder: [String] = []
    var blocks: [String: BlockDevice] = [:]
    var mounts: [Mount] = []
    var swaps: [String] = []
    /// virtio block disks take majors 254 upwards, as virtio_blk's dynamic major does.
    var nextMinor = 0
    var nextVirtioIndex = 0
    var processes: [Int32: Process] = [:]
    var nextPID: Int32 = 300
    /// Every device node by its name below /dev (its uevent's DEVNAME).
    var nodes: [String: DeviceNumber] = [:]
    /// The next minor of each char major.
    var nextCharMinor: [UInt32: UInt32] = [:]
    /// Block devices the kernel holds exclusively: an O_EXCL open of them is EBUSY.
    var claimed: Set<DeviceNumber> = []
    /// The procfs mount's options as mountinfo shows them (`hidepid=invisible`), and the
    /// reader's effective capabilities (`/proc/self/status`, CapEff).
    var procfsOptions = "rw"
    var effectiveCapabilities: UInt64 = 0x000001ffffffffff
    /// What ethtool says runs each virtual interface (`openvswitch` for OVS's ports).
    var interfaceDrivers: [String: String] = [:]
    /// Other network namespaces by name, with their interfaces.
    var namespaces: [String: NetworkNamespace] = [:]
    var nextNamespace: UInt64 = 4026532300
    /// The initial network namespace's inode, as `/proc/self/ns/net` reads `net:[4026531840]`.
    static let initialNamespace: UInt64 = 4026531840

    /// Another network namespace: its interfaces, each with its directory in that
    /// namespace's own sysfs, and the processes in it.
    struct NetworkNamespace {
        var id: UInt64
        var interfaces: [String: Interface] = [:]
    var nextIfindex = 2
        var order: [String] = []
        var processes: [Int32] = []
    }
}
