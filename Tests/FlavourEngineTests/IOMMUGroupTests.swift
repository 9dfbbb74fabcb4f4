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
        #expect(kernel.driver(of: GroupFixture.bridge) == "pcieport")  // the bridge is bound, and exempt
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

    @Test func aBridgeOnItsDriverIsExemptButAnEndpointIsNot() throws {
        let bridge = try kernel.sysfs.pciDevice(GroupFixture.bridge)
        #expect(IOMMUGroup.isBridge(bridge))
        #expect(!IOMMUGroup.isBridge(try kernel.sysfs.pciDevice(GroupFixture.e1000e)))
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
