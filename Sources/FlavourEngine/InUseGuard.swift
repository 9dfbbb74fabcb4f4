import FlavourCore

/// Refuses to take a device the host is using (issue 6; KERNEL-FACTS.md, "Prior art":
/// dpdk-devbind refuses a NIC that carries a route). Everything is read through the
/// sysfs root and the /proc root, so the test kernel can model each case:
/// - a network interface below the device (an entry of `class/net` whose directory is
///   below the device's) that is up (IFF_UP in its `flags`, or `operstate` up/unknown
///   when flags are missing) and has an IPv6 address (`if_inet6`, link-local left out)
///   or any route (`net/route`, `net/ipv6_route`). An IPv4 address is seen through its
///   prefix route in `net/route` (main table only).
/// - a block device below it (an entry of `class/block`, disks and partitions alike,
///   whose directory is below the device's, however deep: `host0/port-0:0/.../block/sda`
///   behind a SAS HBA) that is mounted (mountinfo's major:minor equals its `dev`, or the
///   source is `/dev/<name>`), swap (`swaps`), or held (`holders/` not empty: dm, md, LVM).
/// - the boot VGA device (`boot_vga` is 1) while a framebuffer or VGA console is bound
///   (`class/vtconsole/vtcon*/bind` is 1 and its name says "frame buffer" or "VGA").
/// Every link the guard follows is resolved inside the sysfs root (`resolveInside`).
public struct InUseGuard: Sendable {
    public let sysfs: Sysfs
    public let procRoot: String

    public init(sysfs: Sysfs, procRoot: String = "/proc") {
        self.sysfs = sysfs
        self.procRoot = procRoot.hasSuffix("/") && procRoot.count > 1 ? String(procRoot.dropLast()) : procRoot
    }

    /// What the host uses the device for; empty when it is free to take.
    public func check(_ device: PCIDevice) -> [InUseReason] {
        guard let directory = sysfs.resolveInside(PCIPaths.device(device.address)) else { return [] }
        let interfaces = Self.below(directory, in: classMembers("class/net"))
        let blocks = Self.below(directory, in: classMembers("class/block"))
        var reasons: [InUseReason] = []
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
    func classMembers(_ classDirectory: String) -> [Member] {
        sysfs.list(classDirectory).compactMap { name in
            sysfs.resolveInside(classDirectory + "/" + name).map { Member(name: name, directory: $0) }
        }
    }

    /// The members whose directory lies below `directory` (a path prefix up to a `/`).
    static func below(_ directory: String, in members: [Member]) -> [Member] {
        members.filter { $0.directory.hasPrefix(directory + "/") }
    }

    // MARK: - Network

    private func networkReasons(_ interfaces: [Member]) -> [InUseReason] {
        let routes = RouteTable.parse(ipv4: readProc("net/route"), ipv6: readProc("net/ipv6_route"))
        let addresses = InterfaceAddresses.parse(ifInet6: readProc("net/if_inet6"))
        return interfaces.compactMap { interface in
            guard isUp(interface.directory) else { return nil }
            let own = routes.routes(via: interface.name)
            let ipv6 = addresses.addresses(of: interface.name)
            guard !own.isEmpty || !ipv6.isEmpty else { return nil }
            return .network(
                interface: interface.name, addresses: ipv6, routes: own.filter { !$0.isDefault }.map(\.destination),
                defaultRoute: own.contains(where: \.isDefault))
        }
    }

    /// IFF_UP (`include/uapi/linux/if.h`) in `flags`; without flags, the operstate.
    private func isUp(_ directory: String) -> Bool {
        if let flags = sysfs.readEntry("flags", of: directory), let value = UInt32(flags.dropHexPrefix, radix: 16) {
            return value & 0x1 != 0
        }
        return ["up", "unknown"].contains(sysfs.readEntry("operstate", of: directory) ?? "down")
    }

    // MARK: - Block

    private func blockReasons(_ blocks: [Member]) -> [InUseReason] {
        let mounts = MountTable.parse(mountinfo: readProc("self/mountinfo"))
        let swaps = SwapList.parse(swaps: readProc("swaps"))
        var reasons: [InUseReason] = []
        for block in blocks {
            let majorMinor = sysfs.readEntry("dev", of: block.directory) ?? "-"
            // One reason per block device: a daemon with PrivateTmp= sees the root disk at /,
            // /tmp and /var/tmp, and the admin needs to hear about the disk once.
            var mountPoints: [String] = []
            for mount in mounts.mounts(majorMinor: majorMinor, name: block.name) where !mountPoints.contains(mount.mountPoint) {
                mountPoints.append(mount.mountPoint)
            }
            if !mountPoints.isEmpty { reasons.append(.mounted(block: block.name, mountPoints: mountPoints)) }
            if swaps.contains(device: block.name) { reasons.append(.swap(block: block.name)) }
            let holders = sysfs.list(block.directory + "/holders")
            if !holders.isEmpty { reasons.append(.held(block: block.name, holders: holders)) }
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
