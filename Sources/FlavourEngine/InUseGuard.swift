import FlavourCore

/// Refuses to take a device the host is using (docs/safety.md; KERNEL-FACTS.md, "Prior art":
/// dpdk-devbind refuses a NIC that carries a route). Everything is read through the
/// sysfs root and the /proc root, so the test kernel can model each case:
/// - a network interface below the device (an entry of `class/net` whose directory is
///   below the device's) that is up (IFF_UP in its `flags`, or `operstate` up/unknown
///   when flags are missing) and has an IPv6 address (`if_inet6`, link-local left out)
///   or any route (`net/route`, `net/ipv6_route`). An IPv4 address is seen only through
///   its prefix route in `net/route`, which lists the main table alone: no /proc or /sys
///   file names the interface of an IPv4 address (`fib_trie` lists them without one), so
///   a `noprefixroute` or /32 address, or routes only in another table (policy routing,
///   VRF), go unseen without netlink (docs/safety.md).
/// - such an interface, up, under an upper device that is in use by the same rule: a
///   bridge it is a port of, a bond it is a slave of, a VLAN or macvlan on it (`upper_*`
///   links and `master`, followed upwards through stacks).
/// - a block device below it (an entry of `class/block`, disks and partitions alike,
///   whose directory is below the device's, however deep: `host0/port-0:0/.../block/sda`
///   behind a SAS HBA) that is mounted (mountinfo's major:minor equals its `dev`, or the
///   source is `/dev/<name>`), swap (`swaps`), or held (`holders/` not empty: dm, md, LVM).
/// - an NVMe multipath head (`nvme0n1` under `devices/virtual/nvme-subsystem/`) served by
///   a hidden path disk below the device (`nvme/nvme0/nvme0c0n1`), by the same rules.
/// - the boot VGA device (`boot_vga` is 1) while a framebuffer or VGA console is bound
///   (`class/vtconsole/vtcon*/bind` is 1 and its name says "frame buffer" or "VGA").
/// Every link the guard follows is resolved inside the sysfs root (`resolveInside`).
public struct InUseGuard: Sendable {
    public let sysfs: Sysfs
    public let procRoot: String

    public init(sysfs: Sysfs, procRoot: String = DefaultPaths.procRoot) {
        self.sysfs = sysfs
        self.procRoot = procRoot.hasSuffix("/") && procRoot.count > 1 ? String(procRoot.dropLast()) : procRoot
    }

    /// What the host uses the device for; empty when it is free to take.
    public func check(_ device: PCIDevice) -> [InUseReason] {
        // Interfaces and disks are a bound driver's children: an unbound device (a new VF,
        // the common case in a storm of requests) has none, and only `boot_vga` is left to
        // look at. Most devices have no such attribute (pci-sysfs.c shows it for VGA devices
        // only): one failed open says so, before anything is resolved.
        if device.driver == nil, !sysfs.exists(PCIPaths.attribute("boot_vga", of: device.address)) { return [] }
        guard let directory = sysfs.resolveInside(PCIPaths.device(device.address)) else { return [] }
        var reasons: [InUseReason] = []
        guard device.driver != nil else {
            if let console = bootConsole(directory) { reasons.append(.bootVGA(console: console)) }
            return reasons
        }
        let name = directory.split(separator: "/").last.map(String.init) ?? directory
        let interfaces = Self.below(directory, in: classMembers("class/net", naming: name))
        let below = Self.below(directory, in: classMembers("class/block", naming: name))
        let blocks = below.map { Block(member: $0, multipath: nil) } + multipathHeads(servedBy: below)
        if !interfaces.isEmpty { reasons += networkReasons(interfaces) }
        if !blocks.isEmpty { reasons += blockReasons(blocks) }
        if let console = bootConsole(directory) { reasons.append(.bootVGA(console: console)) }
        return reasons
    }

    // MARK: - Finding what is below the device

    /// A class member (`class/net/eth0`, `class/block/sda1`) and its resolved directory.
    struct Member {
        let name: String
        let directory: String
    }

    /// The entries of a class directory with their devices' directories. The kernel links
    /// every net device and every block device (disk or partition, `block/genhd.c` and
    /// `block/partitions/core.c` add both to block_class) there, wherever it sits in the
    /// device tree, so a reverse lookup finds disks at any depth below the device.
    ///
    /// Only links whose target names `component` are resolved: a class link points
    /// straight at the device's real directory (`../../devices/pci0000:00/0000:00:02.0/
    /// virtio1/block/vda`, made by sysfs_create_link from the kobject's own path), so a
    /// device below another names it. One readlink per entry instead of a resolution
    /// keeps a request cheap on a host with thousands of VF interfaces or disks.
    func classMembers(_ classDirectory: String, naming component: String) -> [Member] {
        sysfs.list(classDirectory).compactMap { name in
            let entry = classDirectory + "/" + name
            guard let target = sysfs.linkTarget(entry), target.split(separator: "/").contains(Substring(component)) else {
                return nil
            }
            return sysfs.resolveInside(entry).map { Member(name: name, directory: $0) }
        }
    }

    /// The members whose directory lies below `directory` (a path prefix up to a `/`).
    static func below(_ directory: String, in members: [Member]) -> [Member] {
        members.filter { $0.directory.hasPrefix(directory + "/") }
    }

    /// A block device the guard looks at: below the device, or a multipath head served
    /// through a path disk below it.
    struct Block {
        let member: Member
        let multipath: InUseReason.Multipath?
    }

    /// NVMe native multipath heads (and their partitions) served by path disks among
    /// `paths`. A path disk `nvme0c0n1` sits below its controller `nvme/nvme0`, the head
    /// `nvme0n1` below `devices/virtual/nvme-subsystem/nvme-subsys0`, which links its
    /// controllers by name (`drivers/nvme/host/core.c`, nvme_init_subsystem): a head
    /// counts when that link resolves to the path disk's own controller.
    func multipathHeads(servedBy paths: [Member]) -> [Block] {
        var heads: [Block] = []
        for path in paths {
            // Two paths below one device (a bridge above both controllers) serve one head.
            guard let disk = NVMePathDisk(path.name), let head = sysfs.resolveInside("class/block/" + disk.head),
                  !heads.contains(where: { $0.member.directory == head }),
                  let controller = Self.parent(path.directory), let subsystem = Self.parent(head),
                  sysfs.resolveInside(subsystem + "/" + disk.controllerName) == controller
            else { continue }
            let multipath = InUseReason.Multipath(head: disk.head, path: path.name)
            // The head and its partitions (`nvme0n1/nvme0n1p1`).
            for member in classMembers("class/block", naming: disk.head)
            where member.directory == head || member.directory.hasPrefix(head + "/") {
                heads.append(Block(member: member, multipath: multipath))
            }
        }
        return heads
    }

    static func parent(_ directory: String) -> String? {
        directory.lastIndex(of: "/").map { String(directory[..<$0]) }
    }

    // MARK: - Network

    private func networkReasons(_ interfaces: [Member]) -> [InUseReason] {
        let network = Network(
            routes: RouteTable.parse(ipv4: readProc("net/route"), ipv6: readProc("net/ipv6_route")),
            addresses: InterfaceAddresses.parse(ifInet6: readProc("net/if_inet6")))
        return interfaces.compactMap { interface in
            var visited: Set<String> = [interface.directory]
            return use(of: interface, in: network, depth: 1, visited: &visited)
        }
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
    private func use(of interface: Member, in network: Network, depth: Int, visited: inout Set<String>) -> InUseReason? {
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
    private func uppers(of directory: String) -> [Member] {
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
    private func relation(to upper: String) -> InUseReason.UpperRelation {
        if sysfs.exists(upper + "/bridge") { return .bridgePort }
        if sysfs.exists(upper + "/bonding") { return .bondSlave }
        return .lowerDevice
    }

    /// IFF_UP (`include/uapi/linux/if.h`) in `flags`; without flags, the operstate.
    private func isUp(_ directory: String) -> Bool {
        if let flags = sysfs.readEntry("flags", of: directory), let value = UInt32(flags.dropHexPrefix, radix: 16) {
            return value & 0x1 != 0
        }
        return ["up", "unknown"].contains(sysfs.readEntry("operstate", of: directory) ?? "down")
    }

    // MARK: - Block

    private func blockReasons(_ blocks: [Block]) -> [InUseReason] {
        let mounts = MountTable.parse(mountinfo: readProc("self/mountinfo"))
        let swaps = SwapList.parse(swaps: readProc("swaps"))
        var reasons: [InUseReason] = []
        for block in blocks {
            let (name, directory, multipath) = (block.member.name, block.member.directory, block.multipath)
            let majorMinor = sysfs.readEntry("dev", of: directory) ?? "-"
            // One reason per block device: a daemon with PrivateTmp= sees the root disk at /,
            // /tmp and /var/tmp, and the admin needs to hear about the disk once.
            var mountPoints: [String] = []
            for mount in mounts.mounts(majorMinor: majorMinor, name: name) where !mountPoints.contains(mount.mountPoint) {
                mountPoints.append(mount.mountPoint)
            }
            if !mountPoints.isEmpty { reasons.append(.mounted(block: name, mountPoints: mountPoints, multipath: multipath)) }
            if swaps.contains(device: name) { reasons.append(.swap(block: name, multipath: multipath)) }
            let holders = sysfs.list(directory + "/holders")
            if !holders.isEmpty { reasons.append(.held(block: name, holders: holders, multipath: multipath)) }
        }
        return reasons
    }

    // MARK: - Boot VGA

    /// The bound console's description when the device is the boot VGA device.
    private func bootConsole(_ directory: String) -> String? {
        guard sysfs.readEntry("boot_vga", of: directory) == "1" else { return nil }
        for console in sysfs.list("class/vtconsole") {
            let base = "class/vtconsole/" + console
            guard sysfs.readInside(base + "/bind") == "1", let name = sysfs.readInside(base + "/name") else { continue }
            // fbcon registers "frame buffer device"; vgacon "VGA+"; "dummy device" is no console.
            if name.contains("frame buffer") || name.contains("VGA") { return "\(console): \(name)" }
        }
        return nil
    }

    private func readProc(_ relative: String) -> String {
        (try? FileSystem.read(procRoot + "/" + relative)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

extension String {
    var dropHexPrefix: Substring { hasPrefix("0x") ? dropFirst(2) : self[...] }
}
