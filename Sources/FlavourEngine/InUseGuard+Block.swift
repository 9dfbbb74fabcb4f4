import FlavourCore

/// The block rules of the in-use guard (docs/safety.md): a block device below the device (an
/// entry of `class/block`, disks and partitions alike, whose directory is below the
/// device's, however deep: `host0/port-0:0/.../block/sda` behind a SAS HBA), or an NVMe
/// multipath head served through it, that is mounted (mountinfo's major:minor equals its
/// `dev`, or the source is `/dev/<name>`), swap (`swaps`), held (`holders/` not empty: dm,
/// md, LVM), or held exclusively by the kernel: an O_EXCL open of its node is EBUSY, the
/// kernel's own answer for every exclusive holder (`block/bdev.c`, bd_may_claim), named where
/// the holder has sysfs or configfs of its own (btrfs, nvmet, LIO, bcache).
extension InUseGuard {
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

    func blockReasons(_ blocks: [Block], survey: InUseSurvey) -> [InUseReason] {
        let mounts: MountTable
        let swaps: SwapList
        switch (survey.mounts, survey.swaps) {
        case let (.success(m), .success(s)): (mounts, swaps) = (m, s)
        case let (.failure(error), _), let (_, .failure(error)):
            let names = blocks.map(\.member.name).joined(separator: ", ")
            return [.unverifiable(check: "whether its block devices (\(names)) are mounted or swap", detail: error.description)]
        }
        var reasons: [InUseReason] = []
        var explained: Set<String> = []
        for block in blocks {
            let (name, directory, multipath) = (block.member.name, block.member.directory, block.multipath)
            let majorMinor = sysfs.readEntry("dev", of: directory) ?? "-"
            // One reason per block device: a daemon with PrivateTmp= sees the root disk at /,
            // /tmp and /var/tmp, and the admin needs to hear about the disk once.
            var mountPoints: [String] = []
            for mount in mounts.mounts(majorMinor: majorMinor, name: name) where !mountPoints.contains(mount.mountPoint) {
                mountPoints.append(mount.mountPoint)
            }
            var found: [InUseReason] = []
            if !mountPoints.isEmpty { found.append(.mounted(block: name, mountPoints: mountPoints, multipath: multipath)) }
            if swaps.contains(device: name) { found.append(.swap(block: name, multipath: multipath)) }
            let holders = sysfs.list(directory + "/holders")
            if !holders.isEmpty { found.append(.held(block: name, holders: holders, multipath: multipath)) }
            if !found.isEmpty { explained.insert(directory) }
            reasons += found
        }
        return reasons + exclusiveClaims(blocks.filter { !explained.contains($0.member.directory) }, explained: explained, survey: survey)
    }

    /// The blocks no other reason names that the kernel holds exclusively. A whole disk is
    /// EBUSY too while one of its partitions is claimed (bd_may_claim: the whole disk's
    /// holder is then bd_may_claim itself), so a disk is named only when none of its
    /// partitions is, whether by a reason above or by its own claim.
    func exclusiveClaims(_ blocks: [Block], explained: Set<String>, survey: InUseSurvey) -> [InUseReason] {
        var claimed: [(Block, DeviceNumber)] = []
        var reasons: [InUseReason] = []
        var explained = explained
        for block in blocks {
            let directory = block.member.directory
            guard let text = sysfs.readEntry("dev", of: directory), let number = DeviceNumber(.block, dev: text) else { continue }
            // An export holds the device whether or not it opened it exclusively (nvmet
            // opens it without a holder, `drivers/nvme/target/io-cmd-bdev.c`).
            if let export = export(of: number) {
                reasons.append(.claimed(block: block.member.name, claim: export, multipath: block.multipath))
                explained.insert(directory)
                continue
            }
            let name = InUseSurvey.devName(sysfs, directory) ?? block.member.name
            switch probe.openExclusively(number, name: name) {
            case .free, .noMedium: continue
            case .busy: claimed.append((block, number))
            case let .failed(path, errno):
                reasons.append(.unverifiable(
                    check: "whether the kernel holds block device \(block.member.name) exclusively",
                    detail: "cannot open \(path): \(errno.message)"))
            }
        }
        let busy = Set(claimed.map(\.0.member.directory)).union(explained)
        for (block, number) in claimed {
            let directory = block.member.directory
            // A disk whose partition explains it.
            if busy.contains(where: { $0 != directory && $0.hasPrefix(directory + "/") }) { continue }
            reasons.append(.claimed(block: block.member.name, claim: claim(of: block.member, number: number), multipath: block.multipath))
        }
        return reasons
    }

    /// What holds a block device exclusively, where the holder says so in sysfs.
    func claim(of block: Member, number: DeviceNumber) -> InUseReason.Claim? {
        // btrfs lists each device of a filesystem (`fs/btrfs/sysfs.c`, btrfs_sysfs_add_device).
        for uuid in sysfs.list("fs/btrfs") where sysfs.resolveInside("fs/btrfs/\(uuid)/devices/\(block.name)") == block.directory {
            let label = sysfs.readInside("fs/btrfs/\(uuid)/label")
            return .btrfs(uuid: uuid, label: label?.isEmpty == false ? label : nil)
        }
        if sysfs.isDirectory(block.directory + "/bcache") { return .bcache }
        return nil
    }

    /// An nvmet namespace or a LIO backstore that exports the block device. Both keep the
    /// path the admin gave (configfs, under /sys/kernel/config): compared by the number of
    /// the node it names.
    func export(of number: DeviceNumber) -> InUseReason.Claim? {
        let nvmet = "kernel/config/nvmet/subsystems"
        for subsystem in sysfs.list(nvmet) {
            for namespace in sysfs.list("\(nvmet)/\(subsystem)/namespaces") {
                let base = "\(nvmet)/\(subsystem)/namespaces/\(namespace)"
                if sysfs.readInside(base + "/enable") == "1", names(base + "/device_path", number) {
                    return .nvmet(subsystem: subsystem, namespace: namespace)
                }
            }
        }
        let lio = "kernel/config/target/core"
        for hba in sysfs.list(lio) {
            for name in sysfs.list("\(lio)/\(hba)") where names("\(lio)/\(hba)/\(name)/udev_path", number) {
                return .lio(backstore: "\(hba)/\(name)")
            }
        }
        return nil
    }

    /// Whether the path in a configfs attribute leads to the block device `number`.
    private func names(_ attribute: String, _ number: DeviceNumber) -> Bool {
        guard let path = sysfs.readInside(attribute), path.hasPrefix("/") else { return false }
        return (try? probe.deviceNode(at: path)) == number
    }
}
