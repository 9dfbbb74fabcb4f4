import FlavourCore

/// Why the host is using a device, in words that name what uses it.
public enum InUseReason: Hashable, Sendable, CustomStringConvertible {
    /// A network interface below the device that is up and has a (non-link-local)
    /// address or carries a route.
    case network(interface: String, addresses: [String], routes: [String], defaultRoute: Bool)
    /// A network interface below the device that is up and lies under an upper device (a
    /// bridge, a bond, a VLAN) that is in use: `upper` is that device's reason, a
    /// `.network` or, for a stack (a VLAN on a bond), another `.upperDevice`.
    indirect case upperDevice(interface: String, relation: UpperRelation, upper: InUseReason)
    /// A block device below the device (a disk or one of its partitions) is mounted;
    /// `multipath` when it is an NVMe multipath head (or its partition) served by a path
    /// disk below the device.
    case mounted(block: String, mountPoints: [String], multipath: Multipath? = nil)
    /// A block device below the device is a swap area.
    case swap(block: String, multipath: Multipath? = nil)
    /// A block device below the device is held by device-mapper, md or LVM (`holders/`).
    case held(block: String, holders: [String], multipath: Multipath? = nil)
    /// The boot VGA device while a console is bound to it.
    case bootVGA(console: String)
    /// A device node of the device (a `dev` below it in sysfs, or its IOMMU group's VFIO
    /// node) that processes hold open.
    case heldOpen(node: DeviceNode, holders: [Holder])
    /// A block device below the device that the kernel holds exclusively (an O_EXCL open
    /// is EBUSY) for something no other reason names; `claim` is what holds it, when its
    /// own sysfs or configfs says so.
    case claimed(block: String, claim: Claim?, multipath: Multipath? = nil)
    /// A network interface of the device lives in another network namespace: the device's
    /// `net/` directory (`directory`, relative to the device's) is there but lists nothing
    /// to flavourd, as sysfs shows each namespace only its own interfaces.
    case otherNamespace(directory: String)
    /// VFs of this PF that are in use: moving the PF takes them with it.
    case virtualFunctions([VirtualFunctionUse])
    /// A check the guard could not run: what it wanted to know, and what stopped it.
    case unverifiable(check: String, detail: String)

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
    public enum UpperRelation: String, Hashable, Sendable {
        /// `brport/` (`net/bridge/br_sysfs_if.c`).
        case bridgePort
        /// `bonding_slave/` (`drivers/net/bonding/bond_sysfs_slave.c`).
        case bondSlave
        /// Anything else with an `upper_*` link: VLAN, macvlan, ipvlan, team.
        case lowerDevice

        func phrase(_ upper: String) -> String {
            switch self {
            case .bridgePort: "a port of \(upper)"
            case .bondSlave: "a slave of \(upper)"
            case .lowerDevice: "the lower device of \(upper)"
            }
        }
    }

    /// A few words for a table column (`flavourctl list`): what uses it, not why.
    public var summary: String {
        switch self {
        case let .network(interface, _, _, defaultRoute): defaultRoute ? "\(interface) (default route)" : interface
        case let .upperDevice(interface, _, upper):
            "\(interface) under \(upper.carrier.name)\(upper.carrier.defaultRoute ? " (default route)" : "")"
        case let .mounted(block, mountPoints, _): "\(block) on \(mountPoints.joined(separator: ","))"
        case let .swap(block, _): "\(block) (swap)"
        case let .held(block, holders, _): "\(block) (held by \(holders.joined(separator: ",")))"
        case .bootVGA: "boot console"
        case let .heldOpen(node, holders):
            "\(node.path.hasPrefix("/dev/") ? String(node.path.dropFirst(5)) : node.path) open by "
                + holders.map { "\($0.command)[\($0.pid)]" }.joined(separator: ",")
        case let .claimed(block, claim, _): "\(block) (\(claim?.summary ?? "held by the kernel"))"
        case .otherNamespace: "interface in another netns"
        case let .virtualFunctions(uses):
            uses.count == 1 ? "VF \(uses[0].address) in use" : "\(uses.count) VFs in use"
        case let .unverifiable(check, _): "cannot check \(check)"
        }
    }

    public var description: String {
        switch self {
        case .network, .upperDevice:
            return "network interface \(interfaceName) \(networkPredicate)"
        case let .mounted(block, mountPoints, multipath):
            let whereItIs = multipath.map { Self.served(block, $0) } ?? "below it"
            return "block device \(block) (\(whereItIs)) is mounted at \(mountPoints.joined(separator: ", "))"
        case let .swap(block, multipath):
            return "\(block)\(multipath.map { " (\(Self.served(block, $0)))" } ?? "") is swap"
        case let .held(block, holders, multipath):
            return "\(block)\(multipath.map { " (\(Self.served(block, $0)))" } ?? "") is held by \(holders.joined(separator: ", "))"
        case let .bootVGA(console):
            return "boot VGA device with the console on it (\(console))"
        case let .heldOpen(node, holders):
            let what = node.isIOMMUGroup ? "\(node.path) (the VFIO node of its IOMMU group)" : node.path
            return "\(what) is held open by \(holders.map(\.description).joined(separator: ", "))"
        case let .claimed(block, claim, multipath):
            let whereItIs = multipath.map { " (\(Self.served(block, $0)))" } ?? ""
            guard let claim else {
                return "block device \(block)\(whereItIs) is held exclusively by the kernel (opened exclusively by a filesystem, "
                    + "RAID or export that names itself nowhere in sysfs, such as ZFS, or mounted in another mount namespace)"
            }
            return "block device \(block)\(whereItIs) is held exclusively by the kernel: \(claim.description)"
        case let .otherNamespace(directory):
            return "its network interface is in another network namespace (\(directory)/ is empty in this one), "
                + "where this host's routes and addresses do not show whether it is used"
        case let .virtualFunctions(uses):
            let each = uses.map { "VF \($0.address) (\($0.reasons.map(\.description).joined(separator: "; ")))" }
            return "its VFs are in use: \(each.joined(separator: "; ")); moving the PF takes its VFs with it"
        case let .unverifiable(check, detail):
            return "cannot check \(check): \(detail)"
        }
    }

    /// `the multipath head of nvme0c0n1 below it`, `on nvme0n1, the multipath head of ...`.
    private static func served(_ block: String, _ multipath: Multipath) -> String {
        let head = "the multipath head of \(multipath.path) below it"
        return block == multipath.head ? head : "on \(multipath.head), \(head)"
    }

    /// What is said of the interface: `is up and carries ...`, `is a port of br0, which is
    /// up and carries ...`.
    private var networkPredicate: String {
        switch self {
        case let .network(_, addresses, routes, defaultRoute):
            var text = "is up"
            if !addresses.isEmpty {
                text += " with address\(addresses.count > 1 ? "es" : "") \(addresses.joined(separator: ", "))"
            }
            var carried: [String] = []
            if !routes.isEmpty { carried.append("route\(routes.count > 1 ? "s" : "") \(routes.joined(separator: ", "))") }
            if defaultRoute { carried.append("the default route") }
            if !carried.isEmpty { text += " and carries " + carried.joined(separator: " and ") }
            return text
        case let .upperDevice(_, relation, upper):
            return "is \(relation.phrase(upper.interfaceName)), which \(upper.networkPredicate)"
        default:
            return ""
        }
    }

    private var interfaceName: String {
        switch self {
        case let .network(interface, _, _, _), let .upperDevice(interface, _, _): interface
        default: ""
        }
    }

    /// The interface at the top of a stack, the one that is up with an address or route.
    private var carrier: (name: String, defaultRoute: Bool) {
        switch self {
        case let .network(interface, _, _, defaultRoute): (interface, defaultRoute)
        case let .upperDevice(_, _, upper): upper.carrier
        default: ("", false)
        }
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
