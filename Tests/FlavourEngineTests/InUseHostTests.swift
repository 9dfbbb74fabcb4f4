import FlavourCore
@testable import FlavourEngine
import FlavourTestKernel
import InMemoryLogging
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The in-use guard on hosts as they really are (docs/safety.md): device nodes held open,
/// block devices the kernel holds exclusively, interfaces in other namespaces, VFs in use,
/// and the guard failing closed when it cannot look. One test per case, on the test kernel.
@Suite struct InUseHostTests {
    let fixture: Fixture
    var kernel: TestKernel { fixture.kernel }

    init() throws { fixture = try Fixture() }

    func guardian(procRoot: String? = nil) -> InUseGuard {
        InUseGuard(sysfs: kernel.sysfs, procRoot: procRoot ?? kernel.procRoot, probe: kernel)
    }

    func reasons(_ address: PCIAddress, scope: InUseGuard.Scope = .everything, procRoot: String? = nil) throws -> [InUseReason] {
        guardian(procRoot: procRoot).check(try kernel.sysfs.pciDevice(address), scope: scope)
    }

    // MARK: - Device nodes held open

    /// A VM's raw disk, a database's volume: nothing mounted, nothing stacked, only the
    /// process's open file shows the use. Compared by number: the process opened it by a
    /// path of its own.
    @Test func aDiskAProcessHoldsOpen() throws {
        try kernel.addBlockDevice(below: Fixture.virtioNet, name: "vdb")
        let pid = try kernel.startProcess("qemu-system-x86", opening: ["/var/log/qemu.log", "/dev/vdb"])
        let found = try reasons(Fixture.virtioNet)
        #expect(found.map(\.description) == ["/dev/vdb is held open by qemu-system-x86 (pid \(pid))"])
        #expect(found.map(\.summary) == ["vdb open by qemu-system-x86[\(pid)]"])
        kernel.endProcess(pid)
        #expect(try reasons(Fixture.virtioNet).isEmpty)
    }

    /// A GPU that is not the boot VGA device (class 0x0302 has no boot_vga at all), whose
    /// card and render nodes a compositor holds.
    @Test func aGPUWhoseDRMNodesAProcessHolds() throws {
        let fixture = try Fixture(extraModules: [TestModule("nouveau", driver: "nouveau", ids: [TestPCIID(vendor: 0x10DE, device: nil)])])
        let kernel = fixture.kernel
        try kernel.load(ModuleName("nouveau")!)
        #expect(kernel.driver(of: Fixture.gpu) == "nouveau")
        try kernel.addCharDevice(below: Fixture.gpu, path: "drm/card1", name: "dri/card1", major: 226)
        try kernel.addCharDevice(below: Fixture.gpu, path: "drm/renderD128", name: "dri/renderD128", major: 226)
        let pid = try kernel.startProcess("gnome-shell", opening: ["/dev/dri/card1", "/dev/dri/renderD128"])
        let guardian = InUseGuard(sysfs: kernel.sysfs, procRoot: kernel.procRoot, probe: kernel)
        #expect(guardian.check(try kernel.sysfs.pciDevice(Fixture.gpu)).map(\.description) == [
            "/dev/dri/card1 is held open by gnome-shell (pid \(pid))", "/dev/dri/renderD128 is held open by gnome-shell (pid \(pid))",
        ])
    }

    /// A keyboard: an open input event node far below a USB controller.
    @Test func aControllerWhoseKeyboardIsOpen() throws {
        let path = "usb1/1-1/1-1:1.0/0003:0627:0001.0001/input/input3/event3"
        try kernel.addCharDevice(below: Fixture.e1000e, path: path, name: "input/event3", major: 13)
        let pid = try kernel.startProcess("Xorg", opening: ["/dev/input/event3"])
        #expect(try reasons(Fixture.e1000e).map(\.description) == ["/dev/input/event3 is held open by Xorg (pid \(pid))"])
    }

    /// Two processes on one node, and one that holds nodes of another device: only the
    /// device's own nodes count, each holder named once.
    @Test func everyHolderIsNamedAndOtherDevicesNodesDoNotCount() throws {
        try kernel.addBlockDevice(below: Fixture.virtioNet, name: "vdb")
        try kernel.addBlockDevice(below: Fixture.e1000e, name: "vdc")
        let first = try kernel.startProcess("qemu", opening: ["/dev/vdb", "/dev/vdb"])
        let second = try kernel.startProcess("dd", opening: ["/dev/vdb"])
        _ = try kernel.startProcess("mkfs", opening: ["/dev/vdc"])
        #expect(try reasons(Fixture.virtioNet).map(\.description) == ["/dev/vdb is held open by qemu (pid \(first)), dd (pid \(second))"])
    }

    // MARK: - VFIO users

    /// A device on vfio-pci that a VFIO user (a VM's QEMU) holds: its IOMMU group's node and
    /// its cdev count; a revert is refused, naming the holder, and writes nothing.
    @Test func aRevertOfADeviceAVFIOUserHoldsIsRefused() throws {
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        let pid = try kernel.startProcess("qemu-system-x86", opening: ["/dev/vfio/vfio", "/dev/vfio/4", "/dev/vfio/devices/vfio0"])
        #expect(try reasons(Fixture.e1000e, scope: .openNodes).map(\.description) == [
            "/dev/vfio/devices/vfio0 is held open by qemu-system-x86 (pid \(pid))",
            "/dev/vfio/4 (the VFIO node of its IOMMU group) is held open by qemu-system-x86 (pid \(pid))",
        ])
        kernel.clearEvents()
        let outcome = try fixture.executor().handle(address: Fixture.e1000e, requested: .revert)
        guard case .refused(let why) = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(why.hasPrefix("0000:00:04.0 is in use by the host: /dev/vfio/devices/vfio0 is held open by qemu-system-x86 (pid \(pid))"))
        #expect(why.hasSuffix("; use --force to take it anyway"))
        #expect(kernel.events.isEmpty)
        #expect(kernel.driver(of: Fixture.e1000e) == "vfio-pci")
    }

    /// With `force` the revert goes ahead, and the override is logged as every other.
    @Test func forceRevertsADeviceAVFIOUserHoldsAndIsLogged() throws {
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        let pid = try kernel.startProcess("qemu", opening: ["/dev/vfio/4"])
        var log = InMemoryLogHandler()
        log.logLevel = .trace
        let executor = try fixture.executor(logger: Logger(label: "test") { [log] _ in log })
        let outcome = executor.handle(address: Fixture.e1000e, requested: .revert, options: RequestOptions(force: true))
        #expect(outcome.result == .reverted(driver: DriverName("e1000e")!))
        let warning = try #require(log.entries.first { $0.message == "In-use guard overridden" })
        #expect(warning.metadata["reason"] == "/dev/vfio/4 (the VFIO node of its IOMMU group) is held open by qemu (pid \(pid))")
    }

    /// A move to another flavour takes the device from the VFIO user that holds it: refused,
    /// naming the holder. The flavour it is on already moves nothing: done, holder or not
    /// (a standing request met again at every start-up must not be reported refused).
    @Test func aMoveOfADeviceAVFIOUserHoldsIsRefusedItsOwnFlavourIsNot() throws {
        let fixture = try Fixture(config: "flavour host - e1000e\n")
        let kernel = fixture.kernel
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        let pid = try kernel.startProcess("qemu", opening: ["/dev/vfio/4"])
        kernel.clearEvents()
        let moved = try fixture.apply(Fixture.e1000e, "host")
        guard case .refused(let why) = moved.result else { Issue.record("\(moved.result)"); return }
        #expect(why.contains("/dev/vfio/4 (the VFIO node of its IOMMU group) is held open by qemu (pid \(pid))"))
        #expect(kernel.events.isEmpty)
        let again = try fixture.apply(Fixture.e1000e)
        #expect(again.result == .alreadyBound(driver: DriverName("vfio-pci")!))
        #expect(kernel.driver(of: Fixture.e1000e) == "vfio-pci")
    }

    /// The VFIO nodes come and go with the driver, as vfio_main.c and group.c make them.
    @Test func theTestKernelsVFIONodesFollowTheDriver() throws {
        #expect(!kernel.sysfs.exists("class/vfio/4"))
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        #expect(kernel.sysfs.readInside("class/vfio/4/dev") == "241:4")
        #expect(kernel.sysfs.exists("bus/pci/devices/0000:00:04.0/vfio-dev/vfio0/dev"))
        #expect(try fixture.apply(Fixture.e1000e, "none").succeeded)
        #expect(!kernel.sysfs.exists("class/vfio/4"))
        #expect(!kernel.sysfs.exists("bus/pci/devices/0000:00:04.0/vfio-dev"))
        #expect(!kernel.sysfs.exists("dev/char/241:4"))
    }

    // MARK: - Block devices the kernel holds exclusively

    /// Held without a word in sysfs (a ZFS vdev, a mount in another mount namespace): the
    /// O_EXCL open says so all the same.
    @Test func aDiskTheKernelHoldsExclusively() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1")
        try kernel.claimExclusively("nvme0n1")
        #expect(try reasons(Fixture.nvmePF) == [.claimed(block: "nvme0n1", claim: nil)])
        #expect(try reasons(Fixture.nvmePF).first?.description.hasPrefix("block device nvme0n1 is held exclusively by the kernel (") == true)
    }

    /// btrfs raid1 across two disks on two controllers, mounted through the first: mountinfo
    /// names an anonymous device and the first disk, so the second disk's controller is in
    /// use only by its claim, which btrfs's sysfs names.
    @Test func theSecondDiskOfABtrfsRaid1() throws {
        try kernel.addBlockDevice(below: Fixture.virtioNet, name: "vdb")
        try kernel.addBlockDevice(below: Fixture.e1000e, name: "vdc")
        try kernel.addBtrfs(uuid: "3f2a9c1e-0d4b-4c8e-9a61-5b7d2e8f1c30", label: "data", devices: ["vdb", "vdc"], mountedAt: "/srv")
        #expect(try reasons(Fixture.virtioNet).map(\.description) == ["block device vdb (below it) is mounted at /srv"])
        #expect(try reasons(Fixture.e1000e).map(\.description) == [
            "block device vdc is held exclusively by the kernel: a device of btrfs filesystem 3f2a9c1e-0d4b-4c8e-9a61-5b7d2e8f1c30 (label data)",
        ])
        #expect(try reasons(Fixture.e1000e).map(\.summary) == ["vdc (btrfs)"])
    }

    @Test func aDiskExportedByNVMet() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1")
        try kernel.exportNVMet("nvme0n1", subsystem: "nqn.2024-01.example:disk", namespace: 1)
        #expect(try reasons(Fixture.nvmePF) == [.claimed(block: "nvme0n1", claim: .nvmet(subsystem: "nqn.2024-01.example:disk", namespace: "1"))])
    }

    @Test func aDiskExportedByLIO() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1")
        try kernel.exportLIO("nvme0n1", backstore: "iblock_0", name: "disk1")
        #expect(try reasons(Fixture.nvmePF).map(\.description)
            == ["block device nvme0n1 is exported by LIO (backstore iblock_0/disk1)"])
    }

    @Test func aDiskRegisteredWithBcache() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1")
        try kernel.registerBcache("nvme0n1")
        #expect(try reasons(Fixture.nvmePF) == [.claimed(block: "nvme0n1", claim: .bcache)])
    }

    /// A claimed partition makes its whole disk EBUSY too (bd_may_claim): the partition is
    /// named, the disk not again; a mounted partition likewise.
    @Test func aClaimedPartitionIsNamedAndItsDiskNotAgain() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1", partitions: ["nvme0n1p1", "nvme0n1p2"])
        try kernel.claimExclusively("nvme0n1p2")
        try kernel.claimExclusively("nvme0n1")
        #expect(try reasons(Fixture.nvmePF) == [.claimed(block: "nvme0n1p2", claim: nil)])
        try kernel.mount("nvme0n1p1", at: "/boot")
        #expect(try reasons(Fixture.nvmePF)
            == [.mounted(block: "nvme0n1p1", mountPoints: ["/boot"]), .claimed(block: "nvme0n1p2", claim: nil)])
    }

    /// A node the probe cannot open (missing from a private /dev) is no pass.
    @Test func aDiskWhoseNodeCannotBeOpenedFailsClosed() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1")
        // The uevent names a node the kernel's /dev does not have.
        let directory = kernel.sysfsRoot + "/bus/pci/devices/0000:01:00.0/nvme/nvme0/nvme0n1"
        let stream = try #require(fopen(directory + "/uevent", "w"))
        fputs("MAJOR=254\nMINOR=0\nDEVNAME=gone\n", stream)
        fclose(stream)
        #expect(try reasons(Fixture.nvmePF).map(\.description)
            == ["cannot check whether the kernel holds block device nvme0n1 exclusively: cannot open /dev/gone: No such file or directory"])
    }

    // MARK: - Networks

    /// An interface moved into a container's namespace: gone from this namespace's view,
    /// the device's `net/` is still there and empty.
    @Test func anInterfaceInAnotherNetworkNamespace() throws {
        try kernel.setInterface("enp0s3", up: true, route: .default)
        try kernel.moveInterface("enp0s3", toNetworkNamespace: "container")
        #expect(try reasons(Fixture.virtioNet) == [.otherNamespace(directory: "net")])
        #expect(try reasons(Fixture.virtioNet).first?.description
            == "its network interface is in another network namespace (net/ is empty in this one) that no process lets this host look into, so nothing shows whether it is used")
    }

    /// A container's process shows the namespace: its sysfs (`/proc/PID/root/sys`) has the
    /// interface, below the device, and its `/proc/PID/net` the address's route. Judged
    /// there, by the same rules: in use.
    @Test func anInterfaceInAContainersNamespaceWithAnAddress() throws {
        try kernel.setInterface("enp0s3", up: true)
        try kernel.moveInterface("enp0s3", toNetworkNamespace: "container", up: true, route: .subnet("192.0.2.0/24"))
        let pid = try kernel.startProcess("sleep", inNetworkNamespace: "container")
        let found = try reasons(Fixture.virtioNet)
        #expect(found.map(\.description) == [
            "network interface enp0s3 in network namespace net:[4026532300] (of sleep, pid \(pid)) is up and carries route 192.0.2.0/24",
        ])
        #expect(found.map(\.summary) == ["enp0s3 in net:[4026532300]"])
    }

    /// ... and idle there: shown to be idle, so free.
    @Test func anIdleInterfaceInAContainersNamespaceIsFree() throws {
        try kernel.setInterface("enp0s3", up: true)
        try kernel.moveInterface("enp0s3", toNetworkNamespace: "container", up: false)
        _ = try kernel.startProcess("sleep", inNetworkNamespace: "container")
        #expect(try reasons(Fixture.virtioNet).isEmpty)
    }

    /// A process that entered the namespace with setns(2) alone keeps the sysfs of the one
    /// it came from: its `class/net` is not what its `/proc/PID/net/dev` lists, so it shows
    /// nothing, and the interface stays unseen, and in use.
    @Test func aProcessWithoutASysfsOfItsOwnShowsNothing() throws {
        try kernel.setInterface("enp0s3", up: true)
        try kernel.moveInterface("enp0s3", toNetworkNamespace: "entered", up: false)
        _ = try kernel.startProcess("nsenter", inNetworkNamespace: "entered", ownSysfs: false)
        #expect(try reasons(Fixture.virtioNet) == [.otherNamespace(directory: "net")])
    }

    /// A macvlan on the NIC that lives in a container's namespace with an address: no
    /// upper_ link crosses namespaces, its iflink names the NIC; in use. Idle, it is not.
    @Test(arguments: [true, false])
    func aMacvlanChildInAnotherNamespace(withAddress: Bool) throws {
        try kernel.setInterface("enp0s4", up: true)
        try kernel.addMacvlan("mv0", on: "enp0s4", inNetworkNamespace: "pod", up: true, route: withAddress ? .subnet("192.0.2.0/24") : nil)
        let pid = try kernel.startProcess("pause", inNetworkNamespace: "pod")
        #expect(try reasons(Fixture.e1000e).map(\.description) == (withAddress ? [
            "network interface enp0s4 is the lower device of mv0 in network namespace net:[4026532300] (of pause, pid \(pid)), which is up and carries route 192.0.2.0/24",
        ] : []))
    }

    /// A process whose namespace cannot be read (another user's, without CAP_SYS_PTRACE)
    /// could hold a child of the NIC: a reason, not a pass.
    @Test func aNamespaceThatCannotBeReadFailsClosed() throws {
        try kernel.setInterface("enp0s4", up: true)
        let pid = try kernel.startProcess("pause", inNetworkNamespace: "pod")
        kernel.hideFiles(ofProcess: pid)
        #expect(try reasons(Fixture.e1000e).map(\.description) == [
            "cannot check whether a macvlan or ipvlan on enp0s4 is in use in another network namespace: cannot read the network namespace of pause (pid \(pid)): Permission denied",
        ])
    }

    /// An Open vSwitch uplink: its master ovs-system is down, and the address is on the
    /// bridge's internal port br0, which is no upper device of the NIC; ethtool says both
    /// run on the openvswitch driver.
    @Test func anOpenVSwitchUplinkWhoseBridgeHasAnAddress() throws {
        try kernel.setInterface("enp0s3", up: true)
        try kernel.addUpperInterface("ovs-system", kind: .openVSwitchDatapath, lowers: ["enp0s3"], up: false)
        try kernel.addUpperInterface("br0", kind: .virtual, lowers: [], route: .subnet("192.0.2.0/24"), driver: "openvswitch")
        #expect(try reasons(Fixture.virtioNet).map(\.description) == [
            "network interface enp0s3 is a port of ovs-system, a datapath that forwards while down (Open vSwitch), to its internal port br0, which is up and carries route 192.0.2.0/24",
        ])
    }

    /// A down master whose driver runs no other interface with an address, or a down
    /// bridge: nothing is forwarded for the host.
    @Test func aDownBridgeOrAnIdleDatapathIsFree() throws {
        try kernel.setInterface("enp0s3", up: true)
        try kernel.addUpperInterface("ovs-system", kind: .openVSwitchDatapath, lowers: ["enp0s3"], up: false)
        try kernel.addUpperInterface("br0", kind: .virtual, lowers: [], driver: "openvswitch")
        try kernel.addUpperInterface("wg0", kind: .virtual, lowers: [], route: .subnet("198.51.100.0/24"), driver: "wireguard")
        #expect(try reasons(Fixture.virtioNet).isEmpty)
        try kernel.setInterface("enp0s4", up: true)
        try kernel.addUpperInterface("br1", kind: .bridge, lowers: ["enp0s4"], up: false, route: .default)
        #expect(try reasons(Fixture.e1000e).isEmpty)
    }

    /// A NIC whose driver made no interface, or which has none: no `net/`, nothing to say.
    @Test func aDeviceWithoutInterfacesIsNotInAnotherNamespace() throws {
        #expect(try reasons(Fixture.connectX).isEmpty)
        #expect(try reasons(Fixture.virtioNet).isEmpty)
    }

    // MARK: - SR-IOV

    /// A PF whose VF a VFIO user holds: the PF is in use, and the refusal says why moving
    /// it matters; unbound VFs cost nothing and say nothing.
    @Test func aPFWhoseVFAVFIOUserHolds() throws {
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("3", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let vf = try PCIAddress(parsing: "0000:02:00.1")
        #expect(try fixture.apply(vf).succeeded)
        #expect(try reasons(Fixture.nvmePF).isEmpty)
        let pid = try kernel.startProcess("qemu", opening: ["/dev/vfio/10002"])
        let found = try reasons(Fixture.nvmePF)
        #expect(found.map(\.description) == [
            "its VFs are in use: VF 0000:02:00.1 (/dev/vfio/10002 (the VFIO node of its IOMMU group) is held open by qemu (pid \(pid))); moving the PF takes its VFs with it",
        ])
        #expect(found.map(\.summary) == ["VF 0000:02:00.1 in use"])
    }

    /// A VF the host uses by its own driver counts for the PF too.
    @Test func aPFWhoseVFCarriesTheHostsNetwork() throws {
        try kernel.sysfs.write("1", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let vf = try PCIAddress(parsing: "0000:02:00.0")
        #expect(kernel.driver(of: vf) == "nvme")
        try kernel.addBlockDevice(below: vf, name: "nvme1n1")
        try kernel.mount("nvme1n1", at: "/var")
        #expect(try reasons(Fixture.nvmePF).map(\.description) == [
            "its VFs are in use: VF 0000:02:00.0 (block device nvme1n1 (below it) is mounted at /var); moving the PF takes its VFs with it",
        ])
    }

    // MARK: - Failing closed

    /// Without /proc (an empty directory given as the proc root) the guard cannot tell who
    /// holds the device's nodes, nor its routes: each is a reason, naming the check.
    @Test func withoutProcEveryCheckThatNeedsItIsAReason() throws {
        let empty = try TemporaryDirectory(prefix: "empty-proc")
        try kernel.addBlockDevice(below: Fixture.virtioNet, name: "vdb")
        try kernel.setInterface("enp0s3", up: true)
        let found = try reasons(Fixture.virtioNet, procRoot: empty.path).map(\.description)
        #expect(found == [
            "cannot check the addresses and routes of its network interfaces (enp0s3): cannot read \(empty.path)/net/route: No such file or directory",
            "cannot check whether its block devices (vdb) are mounted or swap: cannot read \(empty.path)/self/mountinfo: No such file or directory",
            "cannot check which processes hold its device nodes (/dev/vdb) open: \(empty.path) lists no process (is procfs mounted there?)",
        ])
    }

    /// A device with nothing the guard must read /proc for needs no /proc: an unbound VF
    /// (the 1,000-VF storm's case) is free without a look.
    @Test func anUnboundDeviceNeedsNoProc() throws {
        let empty = try TemporaryDirectory(prefix: "empty-proc")
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("2", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        #expect(try reasons(try PCIAddress(parsing: "0000:02:00.0"), procRoot: empty.path).isEmpty)
    }

    /// Another user's process whose files the reader may not list (no
    /// CAP_DAC_READ_SEARCH): a reason naming it, not a pass.
    @Test func aProcessWhoseFilesCannotBeListed() throws {
        try kernel.addBlockDevice(below: Fixture.virtioNet, name: "vdb")
        let pid = try kernel.startProcess("qemu", opening: ["/dev/vdb"])
        kernel.hideFiles(ofProcess: pid)
        #expect(try reasons(Fixture.virtioNet).map(\.description) == [
            "cannot check which processes hold its device nodes (/dev/vdb) open: cannot read the open files of qemu (pid \(pid)): Permission denied",
        ])
    }

    /// procfs mounted with hidepid=invisible (ProtectProc=invisible) hides other users'
    /// processes without an error, unless the reader has CAP_SYS_PTRACE or is in the
    /// mount's gid= group (root's 0 when none is given: the guest showed a root service
    /// with ProtectProc=invisible and no CAP_SYS_PTRACE seeing every process).
    @Test(arguments: [(false, "", false), (false, ",gid=27", true), (true, ",gid=27", false)])
    func processesHiddenByTheProcfsMount(ptrace: Bool, gid: String, refused: Bool) throws {
        try kernel.addBlockDevice(below: Fixture.virtioNet, name: "vdb")
        let capabilities: UInt64 = 1 << 16 | (ptrace ? ProcessStatus.sysPtrace : 0)  // CAP_SYS_MODULE
        try kernel.mountProcfs(options: "rw,nosuid,nodev,noexec,hidepid=invisible\(gid)", effectiveCapabilities: capabilities)
        let expected = refused ? [
            "cannot check which processes hold its device nodes (/dev/vdb) open: other users' processes are hidden from it (\(kernel.procRoot) is mounted with hidepid=invisible, and it lacks CAP_SYS_PTRACE)",
        ] : []
        #expect(try reasons(Fixture.virtioNet).map(\.description) == expected)
    }

    /// --force overrides a check that could not run, as any other reason.
    @Test func forceOverridesACheckThatCouldNotRun() throws {
        let empty = try TemporaryDirectory(prefix: "empty-proc")
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1")
        let executor = try Fixture.executor(kernel, procRoot: empty.path)
        let refused = executor.handle(address: Fixture.nvmePF, requested: .flavour(.vfio))
        guard case .refused(let why) = refused.result else { Issue.record("\(refused.result)"); return }
        #expect(why.contains("cannot check which processes hold its device nodes (/dev/nvme0n1) open"))
        let forced = executor.handle(address: Fixture.nvmePF, requested: .flavour(.vfio), options: RequestOptions(force: true))
        #expect(forced.succeeded)
    }
}
