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
