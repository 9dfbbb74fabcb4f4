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
///   links and `master`, followed upwards through stacks); a port of a master that stays
///   down yet forwards (Open vSwitch's datapath) whose internal port is in use.
/// - an interface of the device in another network namespace (the device's `net/` is
///   there and lists nothing: sysfs shows each namespace only its own), judged by the same
///   rules inside that namespace, seen through one of its processes; in use when no process
///   shows it.
/// - a macvlan or ipvlan child of an interface in another namespace (its `iflink` is the
///   interface's `ifindex`), in use by the same rules there.
extension InUseGuard {
    struct Network {
        let routes: RouteTable
        let addresses: InterfaceAddresses
    }

    /// One namespace's interfaces as the rules read them: its sysfs and its /proc/net
    /// tables; `namespace` nil for flavourd's own.
    struct NetworkView {
        let sysfs: Sysfs
        let network: Network
        let namespace: InUseReason.NetworkNamespace?
    }

    func networkReasons(below directory: String, naming name: String, survey: InUseSurvey) -> [InUseReason] {
        var reasons: [InUseReason] = []
        let interfaces = Self.below(directory, in: classMembers("class/net", naming: name))
        if !interfaces.isEmpty {
            switch survey.network {
            case .success(let network):
                let view = NetworkView(sysfs: sysfs, network: network, namespace: nil)
                for interface in interfaces {
                    var visited: Set<String> = [interface.directory]
                    if let reason = use(of: interface, in: view, depth: 1, visited: &visited) {
                        reasons.append(reason)
                    } else if let reason = childInAnotherNamespace(of: interface, survey: survey) {
                        reasons.append(reason)
                    } else if let failure = survey.namespaces.failure, isUp(interface.directory, in: sysfs) {
                        reasons.append(.unverifiable(
                            check: "whether a macvlan or ipvlan on \(interface.name) is in use in another network namespace", detail: failure))
                    }
                }
            case .failure(let error):
                let names = interfaces.map(\.name).joined(separator: ", ")
                reasons.append(.unverifiable(check: "the addresses and routes of its network interfaces (\(names))", detail: error.description))
            }
        }
        for candidate in otherNamespaceInterfaces(of: directory) {
            reasons += interfacesElsewhere(below: directory + "/" + candidate, candidate: candidate, naming: name, survey: survey)
        }
        return reasons
    }

    /// The nesting limit of stacked net devices (`include/linux/netdevice.h`, MAX_NEST_DEV).
    static let maxNesting = 8

    /// Why an interface is in use: it is up and has an address or route of its own, or it
    /// is up under an upper device (bridge, bond, VLAN, ...) that is in use, followed
    /// through its `upper_*` links and `master` (`net/core/dev.c`,
    /// netdev_adjacent_sysfs_add) as far as the kernel nests them.
    func use(of interface: Member, in view: NetworkView, depth: Int, visited: inout Set<String>) -> InUseReason? {
        guard isUp(interface.directory, in: view.sysfs) else { return nil }
        let own = view.network.routes.routes(via: interface.name)
        let ipv6 = view.network.addresses.addresses(of: interface.name)
        if !own.isEmpty || !ipv6.isEmpty {
            let reason = InUseReason.network(
                interface: interface.name, addresses: ipv6, routes: own.filter { !$0.isDefault }.map(\.destination),
                defaultRoute: own.contains(where: \.isDefault))
            return view.namespace.map { .namespaced($0, reason) } ?? reason
        }
        guard depth < Self.maxNesting else { return nil }
        for upper in uppers(of: interface.directory, in: view.sysfs) where visited.insert(upper.directory).inserted {
            if let reason = use(of: upper, in: view, depth: depth + 1, visited: &visited) {
                return .upperDevice(interface: interface.name, relation: relation(to: upper.directory, in: view.sysfs), upper: reason)
            }
            if let reason = forwardedUse(by: upper, in: view, depth: depth + 1, visited: &visited) {
                return .upperDevice(interface: interface.name, relation: .datapathPort(master: upper.name), upper: reason)
            }
        }
        return nil
    }

    /// A master that stays down yet forwards: Open vSwitch's datapath `ovs-system`, a
    /// master (`netdev_master_upper_dev_link`) of each external port and never up, while
    /// the bridge's address is on an internal port that is linked to nothing
    /// (`net/openvswitch/vport-internal_dev.c`). What ties them is their driver, which only
    /// ethtool tells (`openvswitch`): the first interface of this namespace run by the
    /// master's driver that is in use. A bridge or bond that is down forwards nothing.
    func forwardedUse(by master: Member, in view: NetworkView, depth: Int, visited: inout Set<String>) -> InUseReason? {
        guard view.namespace == nil, !isUp(master.directory, in: view.sysfs), relation(to: master.directory, in: view.sysfs) == .lowerDevice,
              let driver = probe.driver(ofInterface: master.name)
        else { return nil }
        for port in view.sysfs.list("class/net") where port != master.name {
            guard let directory = view.sysfs.resolveInside("class/net/" + port), directory.hasPrefix("devices/virtual/"),
                  !visited.contains(directory), probe.driver(ofInterface: port) == driver
            else { continue }
            visited.insert(directory)
            if let reason = use(of: Member(name: port, directory: directory), in: view, depth: depth, visited: &visited) { return reason }
        }
        return nil
    }

    /// The devices an interface's `upper_<name>` links and `master` point at, resolved
    /// inside the root; named after their directories, as net devices are.
    func uppers(of directory: String, in sysfs: Sysfs) -> [Member] {
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
    func relation(to upper: String, in sysfs: Sysfs) -> InUseReason.UpperRelation {
        if sysfs.exists(upper + "/bridge") { return .bridgePort }
        if sysfs.exists(upper + "/bonding") { return .bondSlave }
        return .lowerDevice
    }

    /// IFF_UP (`include/uapi/linux/if.h`) in `flags`; without flags, the operstate.
    func isUp(_ directory: String, in sysfs: Sysfs) -> Bool {
        if let flags = sysfs.readEntry("flags", of: directory), let value = UInt32(flags.dropHexPrefix, radix: 16) {
            return value & 0x1 != 0
        }
        return ["up", "unknown"].contains(sysfs.readEntry("operstate", of: directory) ?? "down")
    }

    // MARK: - Other network namespaces

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

    /// The device's interfaces that live in other namespaces, found in each namespace's own
    /// sysfs (`/proc/PID/root/sys`: a process's mount namespace keeps the sysfs mounted for
    /// its network namespace) and judged there: in use, or shown to be idle. An interface
    /// no namespace shows is in use: nothing shows it is not.
    func interfacesElsewhere(below netDirectory: String, candidate: String, naming name: String, survey: InUseSurvey) -> [InUseReason] {
        var found = false
        var reasons: [InUseReason] = []
        for namespace in survey.namespaces.visible {
            let view = NetworkView(sysfs: namespace.sysfs, network: namespace.network, namespace: namespace.reference)
            for interface in view.sysfs.list("class/net") {
                guard let target = view.sysfs.linkTarget("class/net/" + interface), target.split(separator: "/").contains(Substring(name)),
                      let directory = view.sysfs.resolveInside("class/net/" + interface), directory.hasPrefix(netDirectory + "/")
                else { continue }
                found = true
                var visited: Set<String> = [directory]
                if let reason = use(of: Member(name: interface, directory: directory), in: view, depth: 1, visited: &visited) {
                    reasons.append(reason)
                }
            }
        }
        if !found { reasons.append(.otherNamespace(directory: candidate)) }
        return reasons
    }

    /// A child of the interface (macvlan, ipvlan) that lives in another namespace and is in
    /// use there. The adjacency links (`upper_*`) exist only between devices of one
    /// namespace; the child's `iflink` still names its lower device's ifindex
    /// (`net/core/dev.c`, dev_get_iflink), which is unique in the lower's namespace, this one.
    func childInAnotherNamespace(of interface: Member, survey: InUseSurvey) -> InUseReason? {
        guard isUp(interface.directory, in: sysfs), let ifindex = sysfs.readEntry("ifindex", of: interface.directory) else { return nil }
        for namespace in survey.namespaces.visible {
            let view = NetworkView(sysfs: namespace.sysfs, network: namespace.network, namespace: namespace.reference)
            for child in view.sysfs.list("class/net") {
                guard let directory = view.sysfs.resolveInside("class/net/" + child), directory.hasPrefix("devices/virtual/"),
                      view.sysfs.readEntry("iflink", of: directory) == ifindex, view.sysfs.readEntry("ifindex", of: directory) != ifindex
                else { continue }
                var visited: Set<String> = [directory]
                if let reason = use(of: Member(name: child, directory: directory), in: view, depth: 2, visited: &visited) {
                    return .upperDevice(interface: interface.name, relation: .lowerDevice, upper: reason)
                }
            }
        }
        return nil
    }
}
