import FlavourCore

/// Refuses to take a device the host is using (docs/safety.md; KERNEL-FACTS.md, "Prior art":
/// dpdk-devbind refuses a NIC that carries a route). Everything is read through the sysfs
/// root and the /proc root, and what only the kernel can answer (what an open file is, an
/// O_EXCL open) goes through the `HostProbe`, so the test kernel models each case:
/// - any device node of the device that a process holds open: every `dev` below it in sysfs
///   (found through `dev/char` and `dev/block`, the kernel's index of nodes) and its IOMMU
///   group's VFIO node, compared by number with what `/proc/PID/fd` leads to. The scan runs
///   only for a device that has nodes; an unbound device has none.
/// - a network interface below the device that is up with an address or route, or under an
///   upper device that is (`InUseGuard+Network`); one in another network namespace.
/// - a block device below it that is mounted, swap, held (`holders/`), or held exclusively
///   by the kernel (an O_EXCL open is EBUSY), named where btrfs, nvmet, LIO or bcache say so
///   (`InUseGuard+Block`); an NVMe multipath head served through it.
/// - for a PF, each of its VFs by the same rules: moving the PF takes them along.
/// - the boot VGA device while a framebuffer or VGA console is bound.
/// What it cannot read (no /proc, a permission error, processes hidden by the procfs mount)
/// is a reason too, naming the check: the guard fails closed.
public struct InUseGuard: Sendable {
    public let sysfs: Sysfs
    public let procRoot: String
    public let probe: any HostProbe

    public init(sysfs: Sysfs, procRoot: String = DefaultPaths.procRoot, probe: any HostProbe) {
        self.sysfs = sysfs
        self.procRoot = procRoot.hasSuffix("/") && procRoot.count > 1 ? String(procRoot.dropLast()) : procRoot
        self.probe = probe
    }

    /// How much of the host's use a request must look at.
    public enum Scope: Sendable {
        /// Everything: the request takes the device from the driver it has.
        case everything
        /// Only its open device nodes: a revert off a VFIO driver takes nothing from the
        /// host, but would take the device from a VFIO user that holds it (and block in
        /// `vfio_unregister_group_dev` until the user lets go).
        case openNodes
    }

    /// What the host uses the device for; empty when it is free to take.
    public func check(_ device: PCIDevice, scope: Scope = .everything) -> [InUseReason] {
        // The storm's case, decided before anything is allocated: an unbound device.
        if hasNothingToLookAt(device, scope: scope) { return [] }
        return check([(device, scope)])[0]
    }

    /// Interfaces, disks and nodes are a bound driver's children: an unbound device (a new
    /// VF, the common case in a storm of requests) has none, and only `boot_vga` is left to
    /// look at. Most devices have no such attribute (pci-sysfs.c shows it for VGA devices
    /// only): one failed open says so, before anything is resolved.
    func hasNothingToLookAt(_ device: PCIDevice, scope: Scope) -> Bool {
        device.driver == nil && (scope == .openNodes || !sysfs.exists(PCIPaths.attribute("boot_vga", of: device.address)))
    }

    /// Several devices at once (`flavourctl list`, a group): the host's tables are read
    /// once, and /proc is scanned once for every node of them all.
    public func check(_ devices: [(device: PCIDevice, scope: Scope)]) -> [[InUseReason]] {
        let survey = InUseSurvey(self)
        let found = devices.map { self.findings(for: $0.device, scope: $0.scope, survey: survey, withVirtualFunctions: true) }
        let wanted = Set(found.flatMap(\.allNodes).map(\.number))
        let scan = wanted.isEmpty ? nil : survey.scanProcesses(for: wanted)
        return found.map { $0.reasons(scan) }
    }

    /// What one device's reasons are made of before /proc is scanned.
    struct Findings {
        var reasons: [InUseReason] = []
        var nodes: [InUseReason.DeviceNode] = []
        var virtualFunctions: [(PCIAddress, Findings)] = []

        var allNodes: [InUseReason.DeviceNode] { nodes + virtualFunctions.flatMap { $0.1.allNodes } }

        func reasons(_ scan: InUseSurvey.ProcessScan?) -> [InUseReason] {
            var result = reasons
            if let scan, !nodes.isEmpty {
                for node in nodes {
                    if let holders = scan.holders[node.number], !holders.isEmpty { result.append(.heldOpen(node: node, holders: holders)) }
                }
                if let failure = scan.failure {
                    let paths = nodes.map(\.path).joined(separator: ", ")
                    result.append(.unverifiable(check: "which processes hold its device nodes (\(paths)) open", detail: failure))
                }
            }
            let uses = virtualFunctions.compactMap { address, findings in
                let reasons = findings.reasons(scan)
                return reasons.isEmpty ? nil : InUseReason.VirtualFunctionUse(address: address, reasons: reasons)
            }
            if !uses.isEmpty { result.append(.virtualFunctions(uses)) }
            return result
        }
    }

    func findings(for device: PCIDevice, scope: Scope, survey: InUseSurvey, withVirtualFunctions: Bool) -> Findings {
        if hasNothingToLookAt(device, scope: scope) { return Findings() }
        guard let directory = sysfs.resolveInside(PCIPaths.device(device.address)) else { return Findings() }
        var findings = Findings()
        guard device.driver != nil else {
            if let console = bootConsole(directory) { findings.reasons.append(.bootVGA(console: console)) }
            return findings
        }
        let name = directory.split(separator: "/").last.map(String.init) ?? directory
        findings.nodes = survey.nodes(below: directory, naming: name) + groupNode(of: device)
        if scope == .everything {
            findings.reasons += networkReasons(below: directory, naming: name, survey: survey)
            let below = Self.below(directory, in: classMembers("class/block", naming: name))
            let blocks = below.map { Block(member: $0, multipath: nil) } + multipathHeads(servedBy: below)
            if !blocks.isEmpty { findings.reasons += blockReasons(blocks, survey: survey) }
            if let console = bootConsole(directory) { findings.reasons.append(.bootVGA(console: console)) }
        }
        if withVirtualFunctions {
            findings.virtualFunctions = virtualFunctions(of: device).compactMap { vf in
                let found = self.findings(for: vf, scope: scope, survey: survey, withVirtualFunctions: false)
                return found.reasons.isEmpty && found.allNodes.isEmpty ? nil : (vf.address, found)
            }
        }
        return findings
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

    static func parent(_ directory: String) -> String? {
        directory.lastIndex(of: "/").map { String(directory[..<$0]) }
    }

    /// The VFIO node of the device's IOMMU group (`class/vfio/<N>`, `/dev/vfio/<N>`), which
    /// exists while a member is on a VFIO driver (`drivers/vfio/group.c`). A VFIO user
    /// opens it first, and QEMU keeps it open as long as it has the device.
    func groupNode(of device: PCIDevice) -> [InUseReason.DeviceNode] {
        guard let group = device.iommuGroup, let text = sysfs.readInside("class/vfio/\(group)/dev"),
              let number = DeviceNumber(.char, dev: text)
        else { return [] }
        return [InUseReason.DeviceNode(number: number, path: "/dev/vfio/\(group)", isIOMMUGroup: true)]
    }

    /// A PF's VFs (`virtfn<N>` links, as many as `sriov_numvfs` says), read as devices.
    /// Devices that cannot make VFs have no `sriov_numvfs`: one failed open.
    func virtualFunctions(of device: PCIDevice) -> [PCIDevice] {
        guard let text = try? sysfs.read(PCIPaths.attribute("sriov_numvfs", of: device.address)),
              let count = Int(text), count > 0
        else { return [] }
        return (0..<count).compactMap { index in
            sysfs.linkName(PCIPaths.attribute("virtfn\(index)", of: device.address))
                .flatMap { try? PCIAddress(parsing: $0) }
                .flatMap { try? sysfs.pciDevice($0) }
        }
    }

    // MARK: - Boot VGA

    /// The bound console's description when the device is the boot VGA device.
    func bootConsole(_ directory: String) -> String? {
        guard sysfs.readEntry("boot_vga", of: directory) == "1" else { return nil }
        for console in sysfs.list("class/vtconsole") {
            let base = "class/vtconsole/" + console
            guard sysfs.readInside(base + "/bind") == "1", let name = sysfs.readInside(base + "/name") else { continue }
            // fbcon registers "frame buffer device"; vgacon "VGA+"; "dummy device" is no console.
            if name.contains("frame buffer") || name.contains("VGA") { return "\(console): \(name)" }
        }
        return nil
    }

    /// A /proc file, or what stopped the read.
    func readProc(_ relative: String) -> Result<String, FileSystem.Error> {
        sysfs.writer.accessed(.procRead)
        return Result { () throws(FileSystem.Error) in String(decoding: try FileSystem.read(procRoot + "/" + relative), as: UTF8.self) }
    }
}

extension String {
    var dropHexPrefix: Substring { hasPrefix("0x") ? dropFirst(2) : self[...] }
}
