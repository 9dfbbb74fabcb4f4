/// Why the host is using a device, in words that name what uses it.
public enum InUseReason: Hashable, Sendable, CustomStringConvertible {
    /// A network interface below the device that is up and has a (non-link-local)
    /// address or carries a route.
    case network(interface: String, addresses: [String], routes: [String], defaultRoute: Bool)
    /// A network interface below the device that is up and lies under an upper device (a
    /// bridge, a bond, a VLAN) that is in use: `upper` is that device's reason, a
    /// `.network` or, for a stack (a VLAN on a bond), another `.upperDevice`.
    indirect case upperDevice(interface: String, relation: UpperRelation, upper: InUseReason)
    /// A block device below the device (a disk or one of its partitions) is mounted.
    case mounted(block: String, mountPoints: [String])
    /// A block device below the device is a swap area.
    case swap(block: String)
    /// A block device below the device is held by device-mapper, md or LVM (`holders/`).
    case held(block: String, holders: [String])
    /// The boot VGA device while a console is bound to it.
    case bootVGA(console: String)

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
        case let .mounted(block, mountPoints): "\(block) on \(mountPoints.joined(separator: ","))"
        case let .swap(block): "\(block) (swap)"
        case let .held(block, holders): "\(block) (held by \(holders.joined(separator: ",")))"
        case .bootVGA: "boot console"
        }
    }

    public var description: String {
        switch self {
        case .network, .upperDevice:
            return "network interface \(interfaceName) \(networkPredicate)"
        case let .mounted(block, mountPoints):
            return "block device \(block) (below it) is mounted at \(mountPoints.joined(separator: ", "))"
        case let .swap(block):
            return "\(block) is swap"
        case let .held(block, holders):
            return "\(block) is held by \(holders.joined(separator: ", "))"
        case let .bootVGA(console):
            return "boot VGA device with the console on it (\(console))"
        }
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
