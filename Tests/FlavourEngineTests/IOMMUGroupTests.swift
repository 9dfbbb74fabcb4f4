import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Testing

@Suite struct IOMMUGroupTests {
    let fixture: GroupFixture
    var kernel: TestKernel { fixture.kernel }

    init() throws { fixture = try GroupFixture() }

    func viability(_ address: PCIAddress) throws -> (group: IOMMUGroup, blockers: [IOMMUGroup.Blocker]) {
        try #require(try fixture.check().viability(of: try kernel.sysfs.pciDevice(address)))
    }

    @Test func membersComeFromTheGroupDirectory() throws {
        let group = try viability(GroupFixture.virtioNet).group
        #expect(group.number == 7)
        #expect(group.members.map(\.address) == [GroupFixture.bridge, GroupFixture.virtioNet, GroupFixture.e1000e])
        #expect(group.endpoints.map(\.address) == [GroupFixture.virtioNet, GroupFixture.e1000e])
    }

    @Test func blockedByTheOtherFunctionNamed() throws {
        #expect(kernel.driver(of: GroupFixture.bridge) == "pcieport")  // bound, but pcieport manages DMA
        let blockers = try viability(GroupFixture.virtioNet).blockers
        #expect(blockers.map(\.description) == ["0000:03:00.1 on e1000e"])
    }

    @Test func viableOnceTheOtherFunctionIsOnVFIOPCI() throws {
        _ = try fixture.executor().handle(address: GroupFixture.e1000e, requested: .flavour(.vfio))
        #expect(kernel.driver(of: GroupFixture.e1000e) == "vfio-pci")
        #expect(try viability(GroupFixture.virtioNet).blockers.isEmpty)
    }

    @Test func aVariantDriverCountsAsVFIO() throws {
        _ = try fixture.executor().handle(address: GroupFixture.virtioNet, requested: .flavour(.vfio))
        #expect(kernel.driver(of: GroupFixture.virtioNet) == "virtio_vfio_pci")
        #expect(try viability(GroupFixture.e1000e).blockers.isEmpty)
    }

    @Test func anUnboundMemberDoesNotBlock() throws {
        try kernel.sysfs.write("0000:03:00.1", to: "bus/pci/drivers/e1000e/unbind")
        #expect(kernel.driver(of: GroupFixture.e1000e) == nil)
        #expect(try viability(GroupFixture.virtioNet).blockers.isEmpty)
    }

    @Test func aBridgeIsMarkedAndLeftOutOfTheEndpoints() throws {
        let bridge = try kernel.sysfs.pciDevice(GroupFixture.bridge)
        #expect(IOMMUGroup.isBridge(bridge))
        #expect(!IOMMUGroup.isBridge(try kernel.sysfs.pciDevice(GroupFixture.e1000e)))
    }

    /// The kernel's rule since 5.19 (`drivers/iommu/iommu.c`): a member blocks unless it
    /// is unbound, on a VFIO driver, or on a driver with `driver_managed_dma`; a bridge's
    /// class exempts nothing.
    @Test(arguments: [
        (UInt32(0x060400), "pcieport" as String?, false),
        (0x060400, nil, false),
        (0x060400, "shpchp", true),
        (0x060100, "lpc_ich", true),
        (0x060000, "agpgart-intel", true),
        (0x020000, "pci-stub", false),
        (0x020000, "vfio-pci", false),
        (0x020000, "e1000e", true),
        (0x020000, nil, false),
    ])
    func aMemberBlocksUnlessUnboundOnVFIOOrManagingDMA(classCode: UInt32, driver: String?, blocks: Bool) throws {
        func device(_ address: String, _ classCode: UInt32, _ driver: String?) throws -> PCIDevice {
            PCIDevice(
                address: try PCIAddress(parsing: address),
                modalias: Modalias(vendor: 0x8086, device: 0x1234, subsystemVendor: 0, subsystemDevice: 0, baseClass: 0,
                                   subClass: 0, interface: 0),
                classCode: classCode, driver: driver, driverOverride: nil, iommuGroup: 9, physicalFunction: nil)
        }
        let group = IOMMUGroup(number: 9, members: [
            try device("0000:00:1f.0", classCode, driver), try device("0000:00:1f.6", 0x020000, "e1000e"),
        ])
        let blockers = group.blockers(ifBinding: try PCIAddress(parsing: "0000:00:1f.6")) { driver, _ in
            driver.rawValue.hasSuffix("vfio-pci")
        }
        #expect(blockers.map(\.description) == (blocks ? ["0000:00:1f.0 on \(driver ?? "")"] : []))
    }

    @Test func anUnboundBridgeDoesNotBlock() throws {
        try kernel.sysfs.write("0000:00:1c.0", to: "bus/pci/drivers/pcieport/unbind")
        #expect(kernel.driver(of: GroupFixture.bridge) == nil)
        #expect(try viability(GroupFixture.virtioNet).blockers.map(\.description) == ["0000:03:00.1 on e1000e"])
    }

    /// An Intel PCH: the ISA bridge on lpc_ich shares the group with the onboard NIC, and
    /// keeps it from VFIO although it is a bridge (the classic "group not viable").
    @Test func anISABridgeOnItsDriverBlocksTheOnboardNIC() throws {
        let kernel = try TestKernel(
            modules: [.vfioPCI], loaded: [.lpcICH, .e1000e],
            devices: [
                .intelISABridge("0000:00:1f.0", group: 9),
                .e1000e("0000:00:1f.6", group: 9),
            ])
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        let check = VFIODriverCheck(sysfs: kernel.sysfs, table: loaded.table, config: loaded.config)
        let viability = try #require(check.viability(of: try kernel.sysfs.pciDevice(try PCIAddress(parsing: "0000:00:1f.6"))))
        #expect(viability.blockers.map(\.description) == ["0000:00:1f.0 on lpc_ich"])
    }

    @Test func aDeviceWithoutAGroupHasNoViability() throws {
        let kernel = try TestKernel(loaded: [.e1000e], devices: [.e1000e("0000:00:04.0")])
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        let check = VFIODriverCheck(sysfs: kernel.sysfs, table: loaded.table, config: loaded.config)
        #expect(check.viability(of: try kernel.sysfs.pciDevice(try PCIAddress(parsing: "0000:00:04.0"))) == nil)
    }
}

@Suite struct GroupRequestTests {
    let fixture: GroupFixture
    var kernel: TestKernel { fixture.kernel }

    init() throws { fixture = try GroupFixture() }

    @Test func everyEndpointMovesAndTheBridgeStays() throws {
        let outcomes = try fixture.executor().handleGroup(
            address: GroupFixture.virtioNet, requested: .flavour(.vfio), options: RequestOptions(group: true))
        #expect(outcomes.map(\.address) == [GroupFixture.virtioNet, GroupFixture.e1000e])
        #expect(outcomes.filter { !$0.succeeded }.isEmpty)
        #expect(kernel.driver(of: GroupFixture.virtioNet) == "virtio_vfio_pci")
        #expect(kernel.driver(of: GroupFixture.e1000e) == "vfio-pci")
        #expect(kernel.driver(of: GroupFixture.bridge) == "pcieport")
        let check = try fixture.check()
        #expect(check.viability(of: try kernel.sysfs.pciDevice(GroupFixture.virtioNet))?.blockers.isEmpty == true)
    }

    @Test func oneMemberInUseRefusesTheWholeGroupAndWritesNothing() throws {
        try kernel.setInterface("enp0s4", up: true, route: .default)
        kernel.clearEvents()
        let outcomes = try fixture.executor().handleGroup(
            address: GroupFixture.virtioNet, requested: .flavour(.vfio), options: RequestOptions(group: true))
        #expect(outcomes.count == 2)
        for outcome in outcomes {
            #expect(outcome.result == .refused(
                "IOMMU group 7 cannot be taken as a whole: 0000:03:00.1 is in use by the host: network interface enp0s4 is up and carries the default route; use --force to take it anyway"))
        }
        #expect(kernel.events.isEmpty)
        #expect(kernel.driver(of: GroupFixture.virtioNet) == "virtio-pci")
        #expect(kernel.driver(of: GroupFixture.e1000e) == "e1000e")
    }

    @Test func forceTakesTheGroupAnyway() throws {
        try kernel.setInterface("enp0s4", up: true, route: .default)
        let outcomes = try fixture.executor().handleGroup(
            address: GroupFixture.virtioNet, requested: .flavour(.vfio), options: RequestOptions(force: true, group: true))
        #expect(outcomes.filter { !$0.succeeded }.isEmpty)
        #expect(kernel.driver(of: GroupFixture.e1000e) == "vfio-pci")
    }

    @Test func handleWithGroupReturnsTheRequestedDevicesOutcome() throws {
        let outcome = try fixture.executor().handle(
            address: GroupFixture.e1000e, requested: .flavour(.vfio), options: RequestOptions(group: true))
        #expect(outcome.address == GroupFixture.e1000e)
        #expect(outcome.succeeded)
        #expect(kernel.driver(of: GroupFixture.virtioNet) == "virtio_vfio_pci")
    }

    @Test func revertTakesTheGroupBack() throws {
        let executor = try fixture.executor()
        _ = executor.handleGroup(address: GroupFixture.virtioNet, requested: .flavour(.vfio), options: RequestOptions(group: true))
        let outcomes = executor.handleGroup(address: GroupFixture.virtioNet, requested: .revert, options: RequestOptions(group: true))
        #expect(outcomes.filter { !$0.succeeded }.isEmpty)
        #expect(kernel.driver(of: GroupFixture.virtioNet) == "virtio-pci")
        #expect(kernel.driver(of: GroupFixture.e1000e) == "e1000e")
    }
}
