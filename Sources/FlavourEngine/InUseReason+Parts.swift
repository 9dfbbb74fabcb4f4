import FlavourCore

/// The parts the in-use guard's reasons are made of.
extension InUseReason {
    /// A device node: its number and its path below /dev, and how it belongs to the device.
    public struct DeviceNode: Hashable, Sendable {
        public let number: DeviceNumber
        /// `/dev/vdb`, `/dev/vfio/12`, `/dev/dri/card0`.
        public let path: String
        /// The IOMMU group's VFIO node (`/dev/vfio/N`), which every member shares.
        public let isIOMMUGroup: Bool

        public init(number: DeviceNumber, path: String, isIOMMUGroup: Bool = false) {
            self.number = number
            self.path = path
            self.isIOMMUGroup = isIOMMUGroup
        }
    }

    /// A process that holds a node open.
    public struct Holder: Hashable, Sendable, CustomStringConvertible {
        public let pid: Int32
        /// Its `comm`, or `?` when it could not be read.
        public let command: String

        public init(pid: Int32, command: String) {
            self.pid = pid
            self.command = command
        }

        /// `qemu-system-x86 (pid 812)`.
        public var description: String { "\(command) (pid \(pid))" }
    }

    /// What holds a block device exclusively, as its own sysfs or configfs names it.
    public enum Claim: Hashable, Sendable {
        /// A device of a btrfs filesystem (`fs/btrfs/<uuid>/devices/<name>`).
        case btrfs(uuid: String, label: String?)
        /// A namespace of an nvmet subsystem (configfs `nvmet/subsystems/<nqn>/namespaces/<n>`).
        case nvmet(subsystem: String, namespace: String)
        /// A LIO backstore (configfs `target/core/<hba>/<name>`).
        case lio(backstore: String)
        /// Registered with bcache (`bcache/` in its directory).
        case bcache
    }

    /// A VF of the PF and why it is in use.
    public struct VirtualFunctionUse: Hashable, Sendable {
        public let address: PCIAddress
        public let reasons: [InUseReason]

        public init(address: PCIAddress, reasons: [InUseReason]) {
            self.address = address
            self.reasons = reasons
        }
    }

    /// An NVMe multipath head that is not below the device but served through it: the
    /// head (`nvme0n1`, under `devices/virtual/nvme-subsystem/`) and the hidden path disk
    /// below the device's controller (`nvme0c0n1`).
    public struct Multipath: Hashable, Sendable {
        public let head: String
        public let path: String

        public init(head: String, path: String) {
            self.head = head
            self.path = path
        }
    }

    /// How an interface lies under its upper device, told by what the kernel puts in the
    /// lower interface's directory.
    public enum UpperRelation: Hashable, Sendable {
        /// `brport/` (`net/bridge/br_sysfs_if.c`).
        case bridgePort
        /// `bonding_slave/` (`drivers/net/bonding/bond_sysfs_slave.c`).
        case bondSlave
        /// Anything else with an `upper_*` link: VLAN, macvlan, ipvlan, team; or a child
        /// in another namespace whose `iflink` is this interface (macvlan, ipvlan).
        case lowerDevice
        /// A port of a master that stays down yet forwards (Open vSwitch's datapath,
        /// `ovs-system`), whose internal port (the upper named) is the one in use: the
        /// internal port is no upper device of the port (`net/openvswitch/vport-netdev.c`
        /// links external ports to the datapath only).
        case datapathPort(master: String)

        func phrase(_ upper: String) -> String {
            switch self {
            case .bridgePort: "a port of \(upper)"
            case .bondSlave: "a slave of \(upper)"
            case .lowerDevice: "the lower device of \(upper)"
            case .datapathPort(let master): "a port of \(master), a datapath that forwards while down (Open vSwitch), to its internal port \(upper)"
            }
        }
    }

    /// Another network namespace, as flavourd sees it through one of its processes.
    public struct NetworkNamespace: Hashable, Sendable, CustomStringConvertible {
        /// `net:[4026532365]`, as `/proc/PID/ns/net` reads.
        public let id: String
        /// The process flavourd looked through.
        public let holder: Holder

        public init(id: String, holder: Holder) {
            self.id = id
            self.holder = holder
        }

        /// `network namespace net:[4026532365] (of sleep, pid 899)`.
        public var description: String { "network namespace \(id) (of \(holder.command), pid \(holder.pid))" }
    }
}

extension InUseReason.Claim: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .btrfs(uuid, label): "a device of btrfs filesystem \(uuid)\(label.map { " (label \($0))" } ?? "")"
        case let .nvmet(subsystem, namespace): "exported by nvmet (subsystem \(subsystem), namespace \(namespace))"
        case let .lio(backstore): "exported by LIO (backstore \(backstore))"
        case .bcache: "registered with bcache"
        }
    }

    /// A word or two for `flavourctl list`.
    var summary: String {
        switch self {
        case .btrfs: "btrfs"
        case .nvmet: "nvmet export"
        case .lio: "LIO export"
        case .bcache: "bcache"
        }
    }
}
