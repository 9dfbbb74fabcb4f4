/// Why the host is using a device, in words that name what uses it.
public enum InUseReason: Hashable, Sendable, CustomStringConvertible {
    /// A network interface below the device that is up and has a (non-link-local)
    /// address or carries a route.
    case network(interface: String, addresses: [String], routes: [String], defaultRoute: Bool)
    /// A block device below the device (a disk or one of its partitions) is mounted.
    case mounted(block: String, mountPoints: [String])
    /// A block device below the device is a swap area.
    case swap(block: String)
    /// A block device below the device is held by device-mapper, md or LVM (`holders/`).
    case held(block: String, holders: [String])
    /// The boot VGA device while a console is bound to it.
    case bootVGA(console: String)

    /// A few words for a table column (`flavourctl list`): what uses it, not why.
    public var summary: String {
        switch self {
        case let .network(interface, _, _, defaultRoute): defaultRoute ? "\(interface) (default route)" : interface
        case let .mounted(block, mountPoints): "\(block) on \(mountPoints.joined(separator: ","))"
        case let .swap(block): "\(block) (swap)"
        case let .held(block, holders): "\(block) (held by \(holders.joined(separator: ",")))"
        case .bootVGA: "boot console"
        }
    }

    public var description: String {
        switch self {
        case let .network(interface, addresses, routes, defaultRoute):
            var text = "network interface \(interface) is up"
            if !addresses.isEmpty {
                text += " with address\(addresses.count > 1 ? "es" : "") \(addresses.joined(separator: ", "))"
            }
            var carried: [String] = []
            if !routes.isEmpty { carried.append("route\(routes.count > 1 ? "s" : "") \(routes.joined(separator: ", "))") }
            if defaultRoute { carried.append("the default route") }
            if !carried.isEmpty { text += " and carries " + carried.joined(separator: " and ") }
            return text
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
}
