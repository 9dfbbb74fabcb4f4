import FlavourCore
@testable import FlavourEngine
import FlavourTestKernel
import InMemoryLogging
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The in-use guard on the test kernel: each way the host can use a device, and that a
/// refused request writes nothing.
@Suite struct InUseGuardTests {
    let fixture: Fixture
    var kernel: TestKernel { fixture.kernel }

    init() throws { fixture = try Fixture() }

    func reasons(_ address: PCIAddress) throws -> [InUseReason] {
        InUseGuard(sysfs: kernel.sysfs, procRoot: kernel.procRoot, probe: kernel).check(try kernel.sysfs.pciDevice(address))
    }

    func executor(logger: Logger = Logger(label: "test")) throws -> RequestExecutor {
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        let binder = Binder(sysfs: kernel.sysfs, loader: kernel, logger: logger)
        return RequestExecutor(
            sysfs: kernel.sysfs, binder: binder, config: loaded.config, table: loaded.table, procRoot: kernel.procRoot,
            probe: kernel)
    }

    @Test func nicCarryingTheDefaultRoute() throws {
        try kernel.setInterface("enp0s3", up: true, route: .default)
        #expect(try reasons(Fixture.virtioNet) == [.network(interface: "enp0s3", addresses: [], routes: [], defaultRoute: true)])
        #expect(try reasons(Fixture.virtioNet).first?.description == "network interface enp0s3 is up and carries the default route")
    }

    @Test func nicWithASubnetRouteAndAnAddress() throws {
        try kernel.setInterface("enp0s3", up: true, route: .subnet("10.0.2.0/24"), ipv6: ["fd00::2"])
        #expect(try reasons(Fixture.virtioNet).map(\.description)
            == ["network interface enp0s3 is up with address fd00::2 and carries routes 10.0.2.0/24, fd00::/64"])
    }

    @Test func nicUpWithOnlyAnIPv6Address() throws {
        try kernel.setInterface("enp0s3", up: true, ipv6: ["2001:db8::15"])
        #expect(try reasons(Fixture.virtioNet)
            == [.network(interface: "enp0s3", addresses: ["2001:db8::15"], routes: ["2001:db8::/64"], defaultRoute: false)])
    }

    @Test func nicUpWithoutAddressOrRouteIsFree() throws {
        try kernel.setInterface("enp0s3", up: true)
        #expect(try reasons(Fixture.virtioNet).isEmpty)
    }

    @Test func nicDownIsFree() throws {
        try kernel.setInterface("enp0s3", up: false, route: .default)
        #expect(try reasons(Fixture.virtioNet).isEmpty)
    }

    @Test func otherDevicesRoutesDoNotCount() throws {
        try kernel.setInterface("enp0s3", up: true, route: .default)
        try kernel.setInterface("enp0s4", up: true)
        #expect(try reasons(Fixture.e1000e).isEmpty)
    }

    /// A NIC with no address of its own, under an upper device that carries the traffic:
    /// the reason names both.
    @Test(arguments: [
        (TestUpperKind.bridge, "br0", "network interface enp0s3 is a port of br0, which is up and carries the default route"),
        (.bond, "bond0", "network interface enp0s3 is a slave of bond0, which is up and carries the default route"),
        (.vlan, "enp0s3.100", "network interface enp0s3 is the lower device of enp0s3.100, which is up and carries the default route"),
    ])
    func aNICUnderAnUpperDeviceThatCarriesTheDefaultRoute(kind: TestUpperKind, upper: String, expected: String) throws {
        try kernel.setInterface("enp0s3", up: true)
        try kernel.addUpperInterface(upper, kind: kind, lowers: ["enp0s3"], route: .default)
        let found = try reasons(Fixture.virtioNet)
        #expect(found.map(\.description) == [expected])
        #expect(found.map(\.summary) == ["enp0s3 under \(upper) (default route)"])
    }

    @Test func bothSlavesOfABondWithAnAddressAreInUse() throws {
        try kernel.setInterface("enp0s3", up: true)
        try kernel.setInterface("enp0s4", up: true)
        try kernel.addUpperInterface("bond0", kind: .bond, lowers: ["enp0s3", "enp0s4"], route: .subnet("10.0.2.0/24"), ipv6: ["fd00::2"])
        #expect(try reasons(Fixture.e1000e) == [.upperDevice(
            interface: "enp0s4", relation: .bondSlave,
            upper: .network(interface: "bond0", addresses: ["fd00::2"], routes: ["10.0.2.0/24", "fd00::/64"], defaultRoute: false))])
        #expect(try reasons(Fixture.virtioNet).map(\.description)
            == ["network interface enp0s3 is a slave of bond0, which is up with address fd00::2 and carries routes 10.0.2.0/24, fd00::/64"])
    }

    /// A VLAN on a bond on the NIC: followed upwards as far as the kernel nests devices.
    @Test func aVLANOnABondOnTheNIC() throws {
        try kernel.setInterface("enp0s3", up: true)
        try kernel.addUpperInterface("bond0", kind: .bond, lowers: ["enp0s3"])
        try kernel.addUpperInterface("bond0.100", kind: .vlan, lowers: ["bond0"], route: .default)
        #expect(try reasons(Fixture.virtioNet).map(\.description) == [
            "network interface enp0s3 is a slave of bond0, which is the lower device of bond0.100, which is up and carries the default route",
        ])
        #expect(try reasons(Fixture.virtioNet).map(\.summary) == ["enp0s3 under bond0.100 (default route)"])
    }

    @Test(arguments: [(true, false), (false, true)])
    func aBridgeWithoutAnAddressOrAPortThatIsDownIsFree(portUp: Bool, bridgeCarriesRoute: Bool) throws {
        try kernel.setInterface("enp0s3", up: portUp)
        try kernel.addUpperInterface("br0", kind: .bridge, lowers: ["enp0s3"], route: bridgeCarriesRoute ? .default : nil)
        #expect(try reasons(Fixture.virtioNet).isEmpty)
    }

    /// Links out of the root, or looping between two interfaces, end the search quietly.
    @Test func upperLinksThatEscapeOrLoopAreNotFollowed() throws {
        try kernel.setInterface("enp0s3", up: true)
        try kernel.addUpperInterface("br0", kind: .bridge, lowers: ["enp0s3"])
        let port = kernel.sysfsRoot + "/bus/pci/devices/0000:00:03.0/net/enp0s3"
        #expect(symlink("../../../../../../../../../etc", port + "/upper_escape") == 0)
        #expect(symlink("../../../../../bus/pci/devices/0000:00:03.0/net/enp0s3", kernel.sysfsRoot + "/devices/virtual/net/br0/upper_loop") == 0)
        #expect(try reasons(Fixture.virtioNet).isEmpty)
    }

    @Test func diskMountedByMajorMinorUnderAnotherName() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1", partitions: ["nvme0n1p1", "nvme0n1p2"])
        try kernel.mount("nvme0n1p1", at: "/", source: "/dev/disk/by-uuid/0d3f2a")
        #expect(try reasons(Fixture.nvmePF) == [.mounted(block: "nvme0n1p1", mountPoints: ["/"])])
        #expect(try reasons(Fixture.nvmePF).first?.description == "block device nvme0n1p1 (below it) is mounted at /")
    }

    @Test func virtioDiskMountedBySource() throws {
        try kernel.addBlockDevice(below: Fixture.virtioNet, name: "vda")
        try kernel.mount("vda", at: "/srv/my data")
        #expect(try reasons(Fixture.virtioNet) == [.mounted(block: "vda", mountPoints: ["/srv/my data"])])
    }

    /// A daemon with PrivateTmp= sees its root disk at /, /tmp and /var/tmp (as the guest
    /// showed): one reason naming the disk once, with every mount point.
    @Test func oneReasonForADiskMountedSeveralTimes() throws {
        try kernel.addBlockDevice(below: Fixture.virtioNet, name: "vda")
        try kernel.mount("vda", at: "/")
        try kernel.mount("vda", at: "/tmp")
        try kernel.mount("vda", at: "/var/tmp")
        try kernel.mount("vda", at: "/tmp")
        #expect(try reasons(Fixture.virtioNet).map(\.description) == ["block device vda (below it) is mounted at /, /tmp, /var/tmp"])
    }

    /// Disks far below the device, where a bounded walk stopped: behind a SAS HBA (eight
    /// levels), a USB stick behind an xHCI controller (nine), NVMe behind Intel VMD (its
    /// own PCI domain below the VMD endpoint).
    @Test(arguments: [
        ("host0/port-0:0/end_device-0:0/target0:0:0/0:0:0:0/block", "sda", "sda1"),
        ("usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block", "sdb", "sdb1"),
        ("pci10000:00/10000:00:02.0/10000:01:00.0/nvme/nvme0", "nvme0n1", "nvme0n1p1"),
    ])
    func aMountedPartitionDeepBelowTheDevice(path: String, disk: String, partition: String) throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: disk, partitions: [partition], path: path)
        try kernel.mount(partition, at: "/srv")
        #expect(try reasons(Fixture.nvmePF) == [.mounted(block: partition, mountPoints: ["/srv"])])
        #expect(try reasons(Fixture.e1000e).isEmpty)
    }

    @Test func aDeepDiskHeldAndASwapPartitionAreBothReported() throws {
        let path = "host0/port-0:0/end_device-0:0/target0:0:0/0:0:0:0/block"
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "sda", partitions: ["sda1", "sda2"], path: path)
        try kernel.hold("sda1", by: "dm-0")
        try kernel.addSwap("sda2")
        #expect(try reasons(Fixture.nvmePF).map(\.description) == ["sda1 is held by dm-0", "sda2 is swap"])
    }

    /// A device's name that is a prefix of another's (`0000:00:03.0` and `0000:00:03.0x` do
    /// not exist, but `virtio1` and `virtio10` do): only whole path components count.
    @Test func aSiblingWhosePathSharesAPrefixIsNotBelow() throws {
        let members = [
            InUseGuard.Member(name: "vda", directory: "devices/pci0000:00/0000:00:03.0/virtio1/block/vda"),
            InUseGuard.Member(name: "vdb", directory: "devices/pci0000:00/0000:00:03.0/virtio10/block/vdb"),
            InUseGuard.Member(name: "vdc", directory: "devices/pci0000:00/0000:00:03.0"),
        ]
        #expect(InUseGuard.below("devices/pci0000:00/0000:00:03.0/virtio1", in: members).map(\.name) == ["vda"])
    }

    /// NVMe native multipath (Debian's kernel): the mounted head nvme0n1 lives under
    /// devices/virtual/nvme-subsystem/, only the hidden path disk nvme0c0n1 below the
    /// controller; the head counts for the controller, and the reason names both.
    @Test func aMultipathHeadServedByTheControllerIsInUse() throws {
        try kernel.addNVMeMultipathDisk(below: Fixture.nvmePF, partitions: 2)
        try kernel.mount("nvme0n1p1", at: "/")
        try kernel.addSwap("nvme0n1p2")
        let multipath = InUseReason.Multipath(head: "nvme0n1", path: "nvme0c0n1")
        #expect(try reasons(Fixture.nvmePF) == [
            .mounted(block: "nvme0n1p1", mountPoints: ["/"], multipath: multipath), .swap(block: "nvme0n1p2", multipath: multipath),
        ])
        #expect(try reasons(Fixture.nvmePF).map(\.description) == [
            "block device nvme0n1p1 (on nvme0n1, the multipath head of nvme0c0n1 below it) is mounted at /",
            "nvme0n1p2 (on nvme0n1, the multipath head of nvme0c0n1 below it) is swap",
        ])
        #expect(try reasons(Fixture.nvmePF).map(\.summary) == ["nvme0n1p1 on /", "nvme0n1p2 (swap)"])
    }

    @Test func aHeldMultipathHead() throws {
        try kernel.addNVMeMultipathDisk(below: Fixture.nvmePF)
        try kernel.hold("nvme0n1", by: "dm-0")
        #expect(try reasons(Fixture.nvmePF).map(\.description) == ["nvme0n1 (the multipath head of nvme0c0n1 below it) is held by dm-0"])
    }

    /// A dual-ported namespace: each controller serves the head, so each is in use; a
    /// controller of another subsystem is not.
    @Test func aHeadWithTwoPathsCountsForBothControllersAndNoOther() throws {
        let second = try PCIAddress(parsing: "0000:02:00.0")
        let third = try PCIAddress(parsing: "0000:03:00.0")
        try kernel.addDevice(.nvmePF("0000:02:00.0", group: 11))
        try kernel.addDevice(.nvmePF("0000:03:00.0", group: 12))
        try kernel.addNVMeMultipathDisk(below: Fixture.nvmePF, subsystem: 0, controller: 0)
        try kernel.addNVMeMultipathDisk(below: second, subsystem: 0, controller: 1)
        try kernel.addNVMeMultipathDisk(below: third, subsystem: 2, controller: 2)
        try kernel.mount("nvme0n1", at: "/")
        #expect(try reasons(Fixture.nvmePF).map(\.description) == ["block device nvme0n1 (the multipath head of nvme0c0n1 below it) is mounted at /"])
        #expect(try reasons(second).map(\.description) == ["block device nvme0n1 (the multipath head of nvme0c1n1 below it) is mounted at /"])
        #expect(try reasons(third).isEmpty)
    }

    /// The path disk's name alone does not tie it to a head: the head's subsystem must
    /// link the path disk's own controller.
    @Test func aPathNameWithoutTheSubsystemsLinkDoesNotCount() throws {
        try kernel.addNVMeMultipathDisk(below: Fixture.nvmePF)
        try kernel.mount("nvme0n1", at: "/")
        #expect(unlink(kernel.sysfsRoot + "/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0") == 0)
        #expect(try reasons(Fixture.nvmePF).isEmpty)
    }

    @Test func swapPartition() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1", partitions: ["nvme0n1p1", "nvme0n1p2"])
        try kernel.addSwap("nvme0n1p2")
        #expect(try reasons(Fixture.nvmePF).map(\.description) == ["nvme0n1p2 is swap"])
    }

    @Test func heldByDeviceMapper() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1")
        try kernel.hold("nvme0n1", by: "dm-0")
        #expect(try reasons(Fixture.nvmePF).map(\.description) == ["nvme0n1 is held by dm-0"])
    }

    @Test func unusedDiskIsFree() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1", partitions: ["nvme0n1p1"])
        #expect(try reasons(Fixture.nvmePF).isEmpty)
    }

    @Test func bootVGAWithTheConsole() throws {
        try kernel.setBootVGA(Fixture.gpu, console: true)
        #expect(try reasons(Fixture.gpu).map(\.description)
            == ["boot VGA device with the console on it (vtcon1: (M) frame buffer device)"])
    }

    @Test func bootVGAWithoutAConsoleIsFree() throws {
        try kernel.setBootVGA(Fixture.gpu, console: false)
        #expect(try reasons(Fixture.gpu).isEmpty)
    }

    @Test func refusedRequestWritesNothing() throws {
        try kernel.setInterface("enp0s3", up: true, route: .default)
        kernel.clearEvents()
        let outcome = try executor().handle(address: Fixture.virtioNet, requested: .flavour(.vfio))
        #expect(outcome.result == .refused(
            "0000:00:03.0 is in use by the host: network interface enp0s3 is up and carries the default route; use --force to take it anyway"))
        #expect(kernel.events.isEmpty)
        #expect(kernel.driver(of: Fixture.virtioNet) == "virtio-pci")
    }

    @Test func forceProceedsAndIsLogged() throws {
        try kernel.addBlockDevice(below: Fixture.nvmePF, name: "nvme0n1")
        try kernel.mount("nvme0n1", at: "/")
        var log = InMemoryLogHandler()
        log.logLevel = .trace
        let logger = Logger(label: "test") { [log] _ in log }
        let outcome = try executor(logger: logger).handle(
            address: Fixture.nvmePF, requested: .flavour(.vfio), options: RequestOptions(force: true))
        #expect(outcome.succeeded)
        #expect(kernel.driver(of: Fixture.nvmePF) == "vfio-pci")
        let warning = try #require(log.entries.first { $0.message == "In-use guard overridden" })
        #expect(warning.level == .warning)
        #expect(warning.metadata["pci.slot_name"] == "0000:01:00.0")
        #expect(warning.metadata["reason"] == "block device nvme0n1 (below it) is mounted at /")
    }

    @Test func freeDeviceProceedsWithoutAWarning() throws {
        try kernel.setInterface("enp0s3", up: true, route: .default)
        var log = InMemoryLogHandler()
        log.logLevel = .trace
        let logger = Logger(label: "test") { [log] _ in log }
        let outcome = try executor(logger: logger).handle(address: Fixture.e1000e, requested: .flavour(.vfio))
        #expect(outcome.result == .bound(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!))
        #expect(!log.entries.contains { $0.level >= .warning })
    }

    @Test func revertIsNeverRefused() throws {
        _ = try fixture.apply(Fixture.e1000e)
        try kernel.setBootVGA(Fixture.e1000e, console: true)
        let outcome = try executor().handle(address: Fixture.e1000e, requested: .revert)
        #expect(outcome.succeeded)
        #expect(kernel.driver(of: Fixture.e1000e) == "e1000e")
    }
}

/// Links are followed only inside the sysfs root.
@Suite struct ConfinedSysfsTests {
    @Test func relativeLinksInsideTheRootResolve() throws {
        let kernel = try TestKernel(devices: [.virtioNet("0000:00:03.0", group: 3)])
        #expect(kernel.sysfs.resolveInside("bus/pci/devices/0000:00:03.0/iommu_group/devices/0000:00:03.0")
            == "bus/pci/devices/0000:00:03.0")
    }

    @Test(arguments: ["/etc", "../../../../../../../../etc", "../../../../.."])
    func linksOutOfTheRootAreRefused(target: String) throws {
        let kernel = try TestKernel(devices: [.virtioNet("0000:00:03.0", group: 3)])
        let device = kernel.sysfsRoot + "/bus/pci/devices/0000:00:03.0"
        #expect(symlink(target, device + "/boot_vga") == 0)
        #expect(kernel.sysfs.resolveInside("bus/pci/devices/0000:00:03.0/boot_vga") == nil)
        #expect(kernel.sysfs.readInside("bus/pci/devices/0000:00:03.0/boot_vga/hostname") == nil)
    }

    /// An attribute read per bind (`readEntry`) that is a link, to a file outside the
    /// root or inside it, is not followed: a planted boot_vga link makes no device "in use".
    @Test(arguments: ["/OUTSIDE", "../../../../kernel/planted"])
    func anAttributeThatIsALinkIsNotRead(target: String) throws {
        let kernel = try TestKernel(devices: [.virtioNet("0000:00:03.0", group: 3)])
        try kernel.setBootVGA(try PCIAddress(parsing: "0000:00:03.0"), console: true)
        let outside = kernel.root + "/outside-1"
        for file in [outside, kernel.sysfsRoot + "/kernel/planted"] {
            let stream = try #require(fopen(file, "w"))
            fputs("1\n", stream)
            fclose(stream)
        }
        let device = kernel.sysfsRoot + "/bus/pci/devices/0000:00:03.0"
        #expect(unlink(device + "/boot_vga") == 0)
        #expect(symlink(target == "/OUTSIDE" ? outside : target, device + "/boot_vga") == 0)
        #expect(kernel.sysfs.readEntry("boot_vga", of: "bus/pci/devices/0000:00:03.0") == nil)
        let guardian = InUseGuard(sysfs: kernel.sysfs, procRoot: kernel.procRoot, probe: kernel)
        #expect(guardian.check(try kernel.sysfs.pciDevice(try PCIAddress(parsing: "0000:00:03.0"))).isEmpty)
    }

    @Test func aLinkLoopIsRefused() throws {
        let kernel = try TestKernel()
        #expect(symlink("b", kernel.sysfsRoot + "/a") == 0)
        #expect(symlink("a", kernel.sysfsRoot + "/b") == 0)
        #expect(kernel.sysfs.resolveInside("a") == nil)
    }

    @Test func aNetDirectoryBehindALinkIsNotWalked() throws {
        let kernel = try TestKernel(
            loaded: [.e1000e, .virtioPCI], devices: [.e1000e("0000:00:04.0", group: 4), .virtioNet("0000:00:03.0", group: 3)])
        try kernel.setInterface("enp0s3", up: true, route: .default)
        // A link below 0000:00:04.0 into 0000:00:03.0's tree must not make it "in use".
        #expect(symlink("../0000:00:03.0", kernel.sysfsRoot + "/bus/pci/devices/0000:00:04.0/peer") == 0)
        let guardian = InUseGuard(sysfs: kernel.sysfs, procRoot: kernel.procRoot, probe: kernel)
        #expect(guardian.check(try kernel.sysfs.pciDevice(try PCIAddress(parsing: "0000:00:04.0"))).isEmpty)
        #expect(!guardian.check(try kernel.sysfs.pciDevice(try PCIAddress(parsing: "0000:00:03.0"))).isEmpty)
    }
}
