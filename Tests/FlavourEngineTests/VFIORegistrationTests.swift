import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Testing

/// VFIO mode is what the kernel registered, not what a driver is called: the test kernel shows
/// registrations as Linux does (`vfio-dev/vfioN` since 6.1, the group's `class/vfio/N` before).
@Suite struct VFIORegistrationTests {
    @Test func vfioPCIAndAVariantRegisterTheDeviceAndUnbindingUndoesIt() throws {
        let fixture = try Fixture()
        let sysfs = fixture.kernel.sysfs
        #expect(sysfs.vfioRegisteredDevices().isEmpty)
        #expect(try fixture.apply(Fixture.virtioNet).driver?.rawValue == "virtio_vfio_pci")  // a variant
        #expect(try fixture.apply(Fixture.e1000e).driver?.rawValue == "vfio-pci")
        #expect(sysfs.vfioRegistration(of: Fixture.virtioNet) == .device("vfio0"))
        #expect(sysfs.vfioRegistration(of: Fixture.e1000e) == .device("vfio1"))
        #expect(sysfs.vfioRegistration(of: Fixture.connectX) == nil)  // on mlx5_core
        #expect(sysfs.vfioRegisteredDevices() == [Fixture.virtioNet: .device("vfio0"), Fixture.e1000e: .device("vfio1")])

        #expect(try fixture.apply(Fixture.virtioNet, "none").driver?.rawValue == "virtio-pci")
        #expect(sysfs.vfioRegistration(of: Fixture.virtioNet) == nil)
        #expect(!sysfs.exists("bus/pci/devices/0000:00:03.0/vfio-dev"))
        #expect(sysfs.vfioRegisteredDevices() == [Fixture.e1000e: .device("vfio1")])
        // The lowest free index is used again, as the kernel's ida does.
        #expect(try fixture.apply(Fixture.connectX).driver?.rawValue == "mlx5_vfio_pci")
        #expect(sysfs.vfioRegistration(of: Fixture.connectX) == .device("vfio0"))
    }

    /// A driver whose name says nothing: what counts is that the kernel registered the device.
    @Test func aVariantWithAnyNameIsInVFIOMode() throws {
        let fixture = try Fixture()
        #expect(try fixture.apply(Fixture.gpu).driver?.rawValue == "nvgrace-gpu-vfio-pci")
        #expect(fixture.kernel.sysfs.vfioRegistration(of: Fixture.gpu) == .device("vfio0"))
    }

    /// Before Linux 6.1 there is no `vfio-dev/`: the group's VFIO node and a driver built on
    /// vfio_pci_core say it. A device in such a group on another driver is not in VFIO mode.
    @Test func kernelsBefore6Point1AreReadThroughTheGroup() throws {
        let kernel = try TestKernel(
            modules: [.vfioPCI, .virtioVFIOPCI, GroupFixture.pcieport], loaded: [.virtioPCI, .e1000e],
            devices: [
                TestDevice("0000:00:1c.0", vendor: 0x8086, device: 0xA110, classCode: 0x060400, iommuGroup: 7),
                .virtioNet("0000:03:00.0", group: 7), .e1000e("0000:03:00.1", group: 7),
            ],
            vfioDeviceClass: false)
        let sysfs = kernel.sysfs
        let virtio = GroupFixture.virtioNet, e1000e = GroupFixture.e1000e
        try kernel.load(ModuleName("virtio_vfio_pci")!)
        try sysfs.write("virtio_vfio_pci", to: "bus/pci/devices/\(virtio)/driver_override")
        try sysfs.write("\(virtio)", to: "bus/pci/drivers/virtio-pci/unbind")
        try sysfs.write("\(virtio)", to: "bus/pci/drivers/virtio_vfio_pci/bind")
        #expect(!sysfs.exists("class/vfio-dev"))
        #expect(sysfs.vfioRegistration(of: virtio) == .group(7))
        #expect(sysfs.vfioRegistration(of: e1000e) == nil)
        #expect(sysfs.vfioRegistration(of: GroupFixture.bridge) == nil)
        #expect(sysfs.vfioRegisteredDevices() == [virtio: .group(7)])
        try sysfs.write("\(virtio)", to: "bus/pci/drivers/virtio_vfio_pci/unbind")
        #expect(sysfs.vfioRegisteredDevices().isEmpty)
        #expect(!sysfs.exists("class/vfio/7"))
    }

    /// The labels' group check: a member on a DMA-using driver keeps the group from VFIO;
    /// once it is in VFIO mode too (the bridge on pcieport manages its own DMA) the host is ready.
    @Test func labelsAreReadFromTheKernel() throws {
        let fixture = try GroupFixture()
        let executor = try fixture.executor()
        let vfio = try #require(executor.resolve("vfio"))
        #expect(NodeFeatureLabels(reading: fixture.kernel.sysfs).labels.map(\.value) == ["false"])
        #expect(executor.handle(address: GroupFixture.virtioNet, requested: vfio).succeeded)
        var labels = NodeFeatureLabels(reading: fixture.kernel.sysfs).labels
        #expect(labels.map(\.value) == ["false", "1", "true"])
        #expect(labels.map(\.name)[1] == "feature.node.kubernetes.io/driver-flavour.vfio-1af4_1041.count")
        #expect(executor.handle(address: GroupFixture.e1000e, requested: vfio).succeeded)
        labels = NodeFeatureLabels(reading: fixture.kernel.sysfs).labels
        #expect(labels.map { "\($0.name)=\($0.value)" } == [
            "feature.node.kubernetes.io/driver-flavour.vfio-ready=true",
            "feature.node.kubernetes.io/driver-flavour.vfio-1af4_1041.count=1",
            "feature.node.kubernetes.io/driver-flavour.vfio-1af4_1041.variant=true",
            "feature.node.kubernetes.io/driver-flavour.vfio-8086_10d3.count=1",
            "feature.node.kubernetes.io/driver-flavour.vfio-8086_10d3.variant=false",
        ])
    }
}
