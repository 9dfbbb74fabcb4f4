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
    /// A network interface of the device lives in another network namespace that no
    /// process lets flavourd look into: the device's `net/` directory (`directory`,
    /// relative to the device's) is there but lists nothing to flavourd, as sysfs shows
    /// each namespace only its own interfaces.
    case otherNamespace(directory: String)
    /// A reason found in another network namespace, seen through one of its processes: an
    /// interface of the device that lives there, or an upper device that does.
    indirect case namespaced(NetworkNamespace, InUseReason)
    /// VFs of this PF that are in use: moving the PF takes them with it.
    case virtualFunctions([VirtualFunctionUse])
    /// A check the guard could not run: what it wanted to know, and what stopped it.
    case unverifiable(check: String, detail: String)

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
        case let .namespaced(namespace, reason): "\(reason.summary) in \(namespace.id)"
        case let .virtualFunctions(uses):
            uses.count == 1 ? "VF \(uses[0].address) in use" : "\(uses.count) VFs in use"
        case let .unverifiable(check, _): "cannot check \(check)"
        }
    }

    public var description: String {
        switch self {
        case .network, .upperDevice, .namespaced:
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
            switch claim {
            case .nvmet, .lio: return "block device \(block)\(whereItIs) is \(claim.description)"
            case .btrfs, .bcache: return "block device \(block)\(whereItIs) is held exclusively by the kernel: \(claim.description)"
            }
        case let .otherNamespace(directory):
            return "its network interface is in another network namespace (\(directory)/ is empty in this one) "
                + "that no process lets this host look into, so nothing shows whether it is used"
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
        case let .namespaced(_, reason):
            return reason.networkPredicate
        default:
            return ""
        }
    }

    private var interfaceName: String {
        switch self {
        case let .network(interface, _, _, _), let .upperDevice(interface, _, _): interface
        case let .namespaced(namespace, reason): "\(reason.interfaceName) in \(namespace)"
        default: ""
        }
    }

    /// The interface at the top of a stack, the one that is up with an address or route.
    private var carrier: (name: String, defaultRoute: Bool) {
        switch self {
        case let .network(interface, _, _, defaultRoute): (interface, defaultRoute)
        case let .upperDevice(_, _, upper), let .namespaced(_, upper): upper.carrier
        default: ("", false)
        }
    }
}
