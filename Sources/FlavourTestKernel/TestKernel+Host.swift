import FlavourCore
import FlavourEngine

#if canImport(Glibc)
import Glibc
#endif

/// The host's use of devices, as the in-use guard reads it: `<root>/proc/net/route`,
/// `ipv6_route`, `if_inet6`, `self/mountinfo`, `swaps`; interface `flags` and
/// `operstate` under `<dev>/net/<if>` (with `class/net/<if>` linking there), and bridges,
/// bonds and VLANs stacked on them; block devices below a device with `dev`, `holders/`,
/// partitions and `class/block/<name>` links, and NVMe multipath heads; `boot_vga` and
/// the vtconsoles.
extension TestKernel {
    public var procRoot: String { root + "/proc" }

    /// Sets an interface below one of the devices (`TestDevice.netInterfaces`) up or down,
    /// with routes and IPv6 addresses; going down drops its routes, as the kernel does. Its
    /// `address` is `mac`, or one made from the name.
    public func setInterface(_ name: String, up: Bool, route: TestRoute? = nil, ipv6: [String] = [], mac: String? = nil) throws {
        try state.withLock { state throws(SysfsError) in
            guard let address = state.devices.values.first(where: { $0.spec.netInterfaces.contains(name) })?.spec.address else {
                throw SysfsError(.write, path: "class/net/\(name)", errno: ENODEV)
            }
            let directory = sysfsRoot + "/bus/pci/devices/\(address)/net/\(name)"
            try Tree.makeDirectories(directory)
            // IFF_UP | IFF_BROADCAST | IFF_MULTICAST, as `ip link set up` leaves an Ethernet NIC.
            try Tree.writeFile(directory + "/flags", up ? "0x1003\n" : "0x1002\n")
            try Tree.writeFile(directory + "/operstate", up ? "up\n" : "down\n")
            let ifindex = try index(name, directory: directory, in: &state.host)
            let made = name.utf8.reduce(UInt8(0)) { $0 &+ $1 }
            try Tree.writeFile(directory + "/address", (mac ?? "52:54:00:00:00:" + String(made, radix: 16).leftPadded(2)) + "\n")
            try Tree.makeDirectories(sysfsRoot + "/class/net")
            try Tree.link(sysfsRoot + "/class/net/\(name)", to: "../../bus/pci/devices/\(address)/net/\(name)")
            state.host.interfaces[name] = TestHost.Interface(
                directory: directory, up: up, routes: up ? route.map { [$0] } ?? [] : [], ipv6: up ? ipv6 : [],
                ifindex: ifindex, iflink: ifindex)
            try writeHostFiles(state.host)
        }
    }

    /// The interface's ifindex, a new one when it is new (in this namespace's order), with
    /// its `ifindex` and `iflink` files (its own: not a stacked device's lower).
    private func index(_ name: String, directory: String, in host: inout TestHost) throws(SysfsError) -> Int {
        if host.interfaces[name] == nil {
            host.interfaceOrder.append(name)
            host.nextIfindex += 1
        }
        let ifindex = host.interfaces[name]?.ifindex ?? host.nextIfindex - 1
        try Tree.writeFile(directory + "/ifindex", "\(ifindex)\n")
        try Tree.writeFile(directory + "/iflink", "\(ifindex)\n")
        return ifindex
    }

    /// A bridge, bond, VLAN or Open vSwitch datapath on top of `lowers` (interfaces set
    /// before, below a device or virtual), under `devices/virtual/net/<name>` with its
    /// `class/net` link. Each lower gets `upper_<name>` and the upper `lower_<lower>`
    /// (`net/core/dev.c`, netdev_adjacent_sysfs_add); a bridge, bond or datapath is also
    /// each lower's `master`. `.virtual` with no lowers is an interface of its own (an OVS
    /// internal port: `driver` is what ethtool says runs it).
    public func addUpperInterface(
        _ name: String, kind: TestUpperKind, lowers: [String], up: Bool = true, route: TestRoute? = nil, ipv6: [String] = [],
        driver: String? = nil
    ) throws {
        try state.withLock { state throws(SysfsError) in
            if let driver { state.host.interfaceDrivers[name] = driver }
            let directory = sysfsRoot + "/devices/virtual/net/\(name)"
            try Tree.makeDirectories(directory)
            try Tree.writeFile(directory + "/flags", up ? "0x1003\n" : "0x1002\n")
            try Tree.writeFile(directory + "/operstate", up ? "up\n" : "down\n")
            switch kind {
            case .bridge: try Tree.makeDirectories(directory + "/bridge")
            case .bond: try Tree.makeDirectories(directory + "/bonding")
            case .vlan, .virtual: break
            case .openVSwitchDatapath: state.host.interfaceDrivers[name] = "openvswitch"
            }
            try Tree.makeDirectories(sysfsRoot + "/class/net")
            try Tree.link(sysfsRoot + "/class/net/\(name)", to: Self.relative(from: sysfsRoot + "/class/net", to: directory))
            for lower in lowers {
                guard let lowerDirectory = state.host.interfaces[lower]?.directory else {
                    throw SysfsError(.write, path: "class/net/\(lower)", errno: ENODEV)
                }
                try Tree.link(lowerDirectory + "/upper_\(name)", to: Self.relative(from: lowerDirectory, to: directory))
                try Tree.link(directory + "/lower_\(lower)", to: Self.relative(from: directory, to: lowerDirectory))
                switch kind {
                case .bridge:
                    try Tree.makeDirectories(lowerDirectory + "/brport")
                    try Tree.link(lowerDirectory + "/master", to: Self.relative(from: lowerDirectory, to: directory))
                case .bond:
                    try Tree.makeDirectories(lowerDirectory + "/bonding_slave")
                    try Tree.link(lowerDirectory + "/master", to: Self.relative(from: lowerDirectory, to: directory))
                case .openVSwitchDatapath:
                    try Tree.link(lowerDirectory + "/master", to: Self.relative(from: lowerDirectory, to: directory))
                case .vlan, .virtual:
                    break
                }
            }
            let ifindex = try index(name, directory: directory, in: &state.host)
            state.host.interfaces[name] = TestHost.Interface(
                directory: directory, up: up, routes: up ? route.map { [$0] } ?? [] : [], ipv6: up ? ipv6 : [],
                ifindex: ifindex, iflink: ifindex)
            try writeHostFiles(state.host)
        }
    }

    /// A disk below a device, with partitions: virtio's `<dev>/virtioN/block/<name>`, for
    /// `nvme*` names `<dev>/nvme/nvme0/<name>`, or `<dev>/<path>/<name>` when `path` gives
    /// the directories in between (a SAS HBA's
    /// `host0/port-0:0/end_device-0:0/target0:0:0/0:0:0:0/block`). Each gets `dev`
    /// (major:minor), `holders/`, `subsystem` and its `class/block/<name>` link, as
    /// `block/genhd.c` and `block/partitions/core.c` register disks and partitions alike.
    public func addBlockDevice(below address: PCIAddress, name: String, partitions: [String] = [], path: String? = nil) throws {
        try state.withLock { state throws(SysfsError) in
            guard state.devices[address] != nil else { throw SysfsError(.write, path: "\(address)", errno: ENODEV) }
            let device = sysfsRoot + "/bus/pci/devices/\(address)"
            let parent: String
            if let path {
                parent = device + "/" + path
            } else if name.hasPrefix("nvme") {
                parent = device + "/nvme/nvme0"
            } else {
                parent = device + "/virtio\(state.host.nextVirtioIndex)/block"
                state.host.nextVirtioIndex += 1
            }
            try addDisk(parent + "/" + name, name: name, partitions: partitions, in: &state.host)
        }
    }

    /// NVMe native multipath (CONFIG_NVME_MULTIPATH, Debian's kernel) for a subsystem that
    /// can have several controllers: the controller `<dev>/nvme/nvme<C>` holds only the
    /// hidden path disk `nvme<S>c<C>n<N>` (no `dev`, `hidden` 1; `drivers/nvme/host/core.c`,
    /// nvme_alloc_ns), while the head `nvme<S>n<N>` that is mounted, with its partitions,
    /// lives under `devices/virtual/nvme-subsystem/nvme-subsys<S>/`
    /// (`drivers/nvme/host/multipath.c`, nvme_mpath_set_live), and the subsystem links
    /// each of its controllers by name (`core.c`, nvme_init_subsystem). Calling it again
    /// with another device and controller adds a second path to the same head.
    public func addNVMeMultipathDisk(
        below address: PCIAddress, subsystem: Int = 0, controller: Int = 0, namespace: Int = 1, partitions: Int = 0
    ) throws {
        try state.withLock { state throws(SysfsError) in
            guard state.devices[address] != nil else { throw SysfsError(.write, path: "\(address)", errno: ENODEV) }
            let controllerDirectory = sysfsRoot + "/bus/pci/devices/\(address)/nvme/nvme\(controller)"
            let pathName = "nvme\(subsystem)c\(controller)n\(namespace)"
            let pathDirectory = controllerDirectory + "/" + pathName
            try Tree.makeDirectories(pathDirectory + "/holders")
            try Tree.writeFile(pathDirectory + "/hidden", "1\n")
            try Tree.link(pathDirectory + "/subsystem", to: Self.relative(from: pathDirectory, to: sysfsRoot + "/class/block"))
            try Tree.makeDirectories(sysfsRoot + "/class/block")
            try Tree.link(sysfsRoot + "/class/block/" + pathName, to: Self.relative(from: sysfsRoot + "/class/block", to: pathDirectory))
            let subsystemDirectory = sysfsRoot + "/devices/virtual/nvme-subsystem/nvme-subsys\(subsystem)"
            try Tree.makeDirectories(subsystemDirectory)
            try Tree.link(
                subsystemDirectory + "/nvme\(controller)", to: Self.relative(from: subsystemDirectory, to: controllerDirectory))
            let head = "nvme\(subsystem)n\(namespace)"
            guard state.host.blocks[head] == nil else { return }
            try addDisk(
                subsystemDirectory + "/" + head, name: head, partitions: (0..<partitions).map { head + "p\($0 + 1)" },
                in: &state.host)
        }
    }

    /// A disk's directory with its partitions inside, each registered in `class/block`.
    private func addDisk(_ directory: String, name: String, partitions: [String], in host: inout TestHost) throws(SysfsError) {
        try Tree.makeDirectories(sysfsRoot + "/class/block")
        func make(_ directory: String, _ blockName: String, partition: Int?) throws(SysfsError) {
            let number = DeviceNumber(.block, major: 254, minor: UInt32(host.nextMinor))
            host.nextMinor += 1
            try Tree.makeDirectories(directory + "/holders")
            try makeNode(directory, number, name: blockName, in: &host)
            if let partition { try Tree.writeFile(directory + "/partition", "\(partition)\n") }
            try Tree.link(directory + "/subsystem", to: Self.relative(from: directory, to: sysfsRoot + "/class/block"))
            try Tree.link(sysfsRoot + "/class/block/" + blockName, to: Self.relative(from: sysfsRoot + "/class/block", to: directory))
            host.blocks[blockName] = TestHost.BlockDevice(directory: directory, number: number)
        }
        try make(directory, name, partition: nil)
        for (index, part) in partitions.enumerated() {
            try make(directory + "/" + part, part, partition: index + 1)
        }
    }

    /// The relative link target from the directory `from` to `to` (both absolute), as
    /// sysfs writes its links (`../../devices/...`).
    static func relative(from: String, to: String) -> String {
        let source = from.split(separator: "/")
        let target = to.split(separator: "/")
        var common = 0
        while common < source.count, common < target.count, source[common] == target[common] { common += 1 }
        let up = Array(repeating: "..", count: source.count - common)
        return (up + target[common...].map(String.init)).joined(separator: "/")
    }

    /// Mounts a block device (by its name); the mountinfo line carries its major:minor and
    /// `source` (default `/dev/<name>`; a `/dev/disk/by-uuid/...` source tests that the
    /// guard matches by major:minor).
    public func mount(_ name: String, at mountPoint: String, source: String? = nil) throws {
        try state.withLock { state throws(SysfsError) in
            guard state.host.blocks[name] != nil else { throw SysfsError(.write, path: "/dev/\(name)", errno: ENODEV) }
            state.host.mounts.append(TestHost.Mount(block: name, mountPoint: mountPoint, source: source ?? "/dev/\(name)"))
            state.host.claimed.insert(state.host.blocks[name]!.number)
            try writeHostFiles(state.host)
        }
    }

    public func addSwap(_ name: String) throws {
        try state.withLock { state throws(SysfsError) in
            guard state.host.blocks[name] != nil else { throw SysfsError(.write, path: "/dev/\(name)", errno: ENODEV) }
            state.host.swaps.append(name)
            state.host.claimed.insert(state.host.blocks[name]!.number)
            try writeHostFiles(state.host)
        }
    }

    /// `holders/<holder>` in the block device's directory, as dm, md and LVM leave it.
    public func hold(_ name: String, by holder: String) throws {
        try state.withLock { state throws(SysfsError) in
            guard let block = state.host.blocks[name] else { throw SysfsError(.write, path: "/dev/\(name)", errno: ENODEV) }
            let holderDirectory = sysfsRoot + "/devices/virtual/block/\(holder)"
            try Tree.makeDirectories(holderDirectory)
            try Tree.link(block.directory + "/holders/" + holder, to: Self.relative(from: block.directory + "/holders", to: holderDirectory))
            state.host.claimed.insert(block.number)
        }
    }

    /// Marks the boot VGA device; with `console`, fbcon is bound (vtcon1, "frame buffer
    /// device") and the dummy console is not; without, only the dummy console is bound.
    public func setBootVGA(_ address: PCIAddress, console: Bool) throws {
        try state.withLock { state throws(SysfsError) in
            guard state.devices[address] != nil else { throw SysfsError(.write, path: "\(address)", errno: ENODEV) }
            try Tree.writeFile(sysfsRoot + "/bus/pci/devices/\(address)/boot_vga", "1\n")
            for (index, name, bound) in [(0, "(S) dummy device", !console), (1, "(M) frame buffer device", console)] {
                let directory = sysfsRoot + "/devices/virtual/vtconsole/vtcon\(index)"
                try Tree.makeDirectories(directory)
                try Tree.writeFile(directory + "/name", name + "\n")
                try Tree.writeFile(directory + "/bind", (bound ? "1" : "0") + "\n")
                try Tree.makeDirectories(sysfsRoot + "/class/vtconsole")
                try Tree.link(sysfsRoot + "/class/vtconsole/vtcon\(index)", to: "../../devices/virtual/vtconsole/vtcon\(index)")
            }
        }
    }

    /// Rewrites every /proc file from the host state, in the kernel's formats.
    func writeHostFiles(_ host: TestHost) throws(SysfsError) {
        try Tree.makeDirectories(procRoot + "/net")
        try Tree.makeDirectories(procRoot + "/" + PCIPaths.procBus)
        try Tree.makeDirectories(procRoot + "/self/ns")
        try writeNetFiles(procRoot + "/net", interfaces: host.interfaces, order: host.interfaceOrder)
        try Tree.link(procRoot + "/self/ns/net", to: "net:[\(TestHost.initialNamespace)]")
        // procfs as the reader sees it: mounted at the proc root, with its options.
        var mountinfo = "22 27 0:21 / \(procRoot.replacingSpaces) rw,relatime - proc proc \(host.procfsOptions)\n"
        mountinfo += "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
        for (index, mount) in host.mounts.enumerated() {
            // btrfs shows an anonymous device (0:N) for its mounts, not a member disk's.
            let majorMinor = mount.filesystem == "btrfs" ? "0:\(40 + index)" : host.blocks[mount.block]?.majorMinor ?? "0:0"
            let point = mount.mountPoint.replacingSpaces
            mountinfo += "\(30 + index) 1 \(majorMinor) / \(point) rw,relatime shared:1 - \(mount.filesystem) \(mount.source) rw\n"
        }
        try Tree.writeFile(procRoot + "/self/mountinfo", mountinfo)
        var swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        for name in host.swaps { swaps += "/dev/\(name)                               partition\t1048572\t\t0\t\t-2\n" }
        try Tree.writeFile(procRoot + "/swaps", swaps)
        let capabilities = String(host.effectiveCapabilities, radix: 16).leftPadded(16)
        try Tree.writeFile(
            procRoot + "/self/status", "Name:\tflavourctl\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\nCapEff:\t\(capabilities)\n")
    }

    /// A namespace's `/proc/net` files (`route`, `ipv6_route`, `if_inet6`, `dev`), in the
    /// kernel's formats, for the interfaces that are up (down ones keep no routes).
    func writeNetFiles(_ directory: String, interfaces: [String: TestHost.Interface], order: [String]) throws(SysfsError) {
        var route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        var ipv6Route = ""
        var ifInet6 = "00000000000000000000000000000001 01 80 10 80       lo\n"
        var dev = "Inter-|   Receive                            |  Transmit\n face |bytes    packets errs drop fifo frame|bytes\n"
        dev += "    lo:       0       0    0    0    0     0        0\n"
        for name in order {
            guard let interface = interfaces[name] else { continue }
            dev += "\(name): 0 0 0 0 0 0 0\n"
            guard interface.up else { continue }
            let ifindex = String(interface.ifindex, radix: 16).leftPadded(2)
            for address in interface.ipv6 {
                let hex = Self.ipv6Hex(address)
                ifInet6 += "\(hex) \(ifindex) 40 00 80 \(name)\n"
                ipv6Route += "\(Self.prefix64(hex)) 40 \(String(repeating: "0", count: 32)) 00 \(String(repeating: "0", count: 32)) 00000100 00000001 00000000 00000001 \(name)\n"
            }
            for route0 in interface.routes {
                switch route0 {
                case .default:
                    route += "\(name)\t00000000\t0202000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                case .subnet(let cidr):
                    let (destination, mask) = Self.ipv4Hex(cidr)
                    route += "\(name)\t\(destination)\t00000000\t0001\t0\t0\t100\t\(mask)\t0\t0\t0\n"
                case .defaultIPv6:
                    let zero = String(repeating: "0", count: 32)
                    ipv6Route += "\(zero) 00 \(zero) 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003 \(name)\n"
                }
            }
        }
        try Tree.makeDirectories(directory)
        try Tree.writeFile(directory + "/route", route)
        try Tree.writeFile(directory + "/ipv6_route", ipv6Route)
        try Tree.writeFile(directory + "/if_inet6", ifInet6)
        try Tree.writeFile(directory + "/dev", dev)
    }

    /// `10.0.2.0/24` → (`0002000A`, `00FFFFFF`): the big-endian value printed as a
    /// little-endian host's integer, as `/proc/net/route` shows it.
    static func ipv4Hex(_ cidr: String) -> (String, String) {
        let parts = cidr.split(separator: "/")
        let octets = parts[0].split(separator: ".").compactMap { UInt32($0) }
        let length = parts.count > 1 ? Int(parts[1]) ?? 32 : 32
        var value: UInt32 = 0
        for (index, octet) in octets.enumerated() { value |= octet << (8 * UInt32(index)) }
        let maskBE: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - UInt32(length))
        let mask = maskBE.byteSwapped
        func hex(_ v: UInt32) -> String { String(v, radix: 16, uppercase: true).leftPadded(8) }
        return (hex(value), hex(mask))
    }

    /// `fd00::2` → 32 hex digits.
    static func ipv6Hex(_ text: String) -> String {
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        let head = halves[0].split(separator: ":").map(String.init)
        let tail = halves.count > 1 ? halves[1].split(separator: ":").map(String.init) : []
        let groups = head + Array(repeating: "0", count: max(0, 8 - head.count - tail.count)) + tail
        return groups.map { $0.leftPadded(4) }.joined()
    }

    static func prefix64(_ hex: String) -> String { String(hex.prefix(16)) + String(repeating: "0", count: 16) }
}

extension String {
    var replacingSpaces: String { split(separator: " ", omittingEmptySubsequences: false).joined(separator: "\\040") }
}
