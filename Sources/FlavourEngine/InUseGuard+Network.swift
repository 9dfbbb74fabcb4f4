import FlavourCore

/// The network rules of the in-use guard (docs/safety.md):
/// - an interface below the device (an entry of `class/net` whose directory is below the
///   device's) that is up (IFF_UP in its `flags`, or `operstate` up/unknown when flags are
///   missing) and has an IPv6 address (`if_inet6`, link-local left out) or any route
///   (`net/route`, `net/ipv6_route`). An IPv4 address is seen only through its prefix route
///   in `net/route`, which lists the main table alone: no /proc or /sys file names the
///   interface of an IPv4 address (`fib_trie` lists them without one), so a `noprefixroute`
///   or /32 address, or routes only in another table (policy routing, VRF), go unseen
///   without netlink (docs/safety.md).
/// - such an interface, up, under an upper device that is in use by the same rule: a
///   bridge it is a port of, a bond it is a slave of, a VLAN or macvlan on it (`upper_*`
///   links and `master`, followed upwards through stacks).
/// - an interface of the device in another network namespace: the device's `net/`
///   directory is there and lists nothing (sysfs shows each namespace only its own).
extension InUseGuard {
    func networkReasons(below directory: String, naming name: String, survey: InUseSurvey) -> [InUseReason] {
        var reasons: [InUseReason] = []
        let interfaces = Self.below(directory, in: classMembers("class/net", naming: name))
        if !interfaces.isEmpty {
            switch survey.network {
            case .success(let network):
                reasons += interfaces.compactMap { interface in
                    var visited: Set<String> = [interface.directory]
                    return use(of: interface, in: network, depth: 1, visited: &visited)
                }
            case .failure(let error):
                let names = interfaces.map(\.name).joined(separator: ", ")
                reasons.append(.unverifiable(check: "the addresses and routes of its network interfaces (\(names))", detail: error.description))
            }
        }
        reasons += otherNamespaceInterfaces(of: directory).map { .otherNamespace(directory: $0) }
        return reasons
    }

    struct Network {
        let routes: RouteTable
        let addresses: InterfaceAddresses
    }

    /// The nesting limit of stacked net devices (`include/linux/netdevice.h`, MAX_NEST_DEV).
    static let maxNesting = 8

    /// Why an interface is in use: it is up and has an address or route of its own, or it
    /// is up under an upper device (bridge, bond, VLAN, ...) that is in use, followed
    /// through its `upper_*` links and `master` (`net/core/dev.c`,
    /// netdev_adjacent_sysfs_add) as far as the kernel nests them.
    func use(of interface: Member, in network: Network, depth: Int, visited: inout Set<String>) -> InUseReason? {
        guard isUp(interface.directory) else { return nil }
        let own = network.routes.routes(via: interface.name)
        let ipv6 = network.addresses.addresses(of: interface.name)
        if !own.isEmpty || !ipv6.isEmpty {
            return .network(
                interface: interface.name, addresses: ipv6, routes: own.filter { !$0.isDefault }.map(\.destination),
                defaultRoute: own.contains(where: \.isDefault))
        }
        guard depth < Self.maxNesting else { return nil }
        for upper in uppers(of: interface.directory) where visited.insert(upper.directory).inserted {
            if let reason = use(of: upper, in: network, depth: depth + 1, visited: &visited) {
                return .upperDevice(interface: interface.name, relation: relation(to: upper.directory), upper: reason)
            }
        }
        return nil
    }

    /// The devices an interface's `upper_<name>` links and `master` point at, resolved
    /// inside the root; named after their directories, as net devices are.
    func uppers(of directory: String) -> [Member] {
        var result: [Member] = []
        for entry in sysfs.list(directory) where entry.hasPrefix("upper_") || entry == "master" {
            guard let resolved = sysfs.resolveInside(directory + "/" + entry),
                  !result.contains(where: { $0.directory == resolved }),
                  let name = resolved.split(separator: "/").last
            else { continue }
            result.append(Member(name: String(name), directory: resolved))
        }
        return result
    }

    /// A bridge has `bridge/` (`net/bridge/br_sysfs_br.c`), a bond `bonding/`
    /// (`drivers/net/bonding/bond_sysfs.c`); anything else is a VLAN, macvlan and the like.
    func relation(to upper: String) -> InUseReason.UpperRelation {
        if sysfs.exists(upper + "/bridge") { return .bridgePort }
        if sysfs.exists(upper + "/bonding") { return .bondSlave }
        return .lowerDevice
    }

    /// IFF_UP (`include/uapi/linux/if.h`) in `flags`; without flags, the operstate.
    func isUp(_ directory: String) -> Bool {
        if let flags = sysfs.readEntry("flags", of: directory), let value = UInt32(flags.dropHexPrefix, radix: 16) {
            return value & 0x1 != 0
        }
        return ["up", "unknown"].contains(sysfs.readEntry("operstate", of: directory) ?? "down")
    }

    /// The device's `net/` directories (its own, or a child device's, as virtio-net's
    /// `virtio1/net`) that list nothing: the kernel makes `net/` when the driver registers
    /// an interface and removes it with the last one (`drivers/base/core.c`,
    /// get_device_parent, cleanup_glue_dir), but lists in it only the interfaces of the
    /// reader's network namespace (`net/core/net-sysfs.c`, net_namespace). An empty one
    /// holds an interface that lives in another namespace. Relative to the device's
    /// directory.
    func otherNamespaceInterfaces(of directory: String) -> [String] {
        var candidates = ["net"]
        for child in sysfs.subdirectories(directory) where child != "net" { candidates.append(child + "/net") }
        return candidates.filter { candidate in
            let path = directory + "/" + candidate
            return sysfs.isDirectory(path) && sysfs.list(path).isEmpty
        }
    }
}
