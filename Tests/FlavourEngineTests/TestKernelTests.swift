import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The simulated kernel must refuse what the real one refuses: the binder's tests are
/// only worth what these rules are (KERNEL-FACTS.md, "Binding").
@Suite struct TestKernelTests {
    let e1000e = try! PCIAddress(parsing: "0000:00:04.0")

    func kernel() throws -> TestKernel {
        try TestKernel(modules: [.vfioPCI], loaded: [.e1000e], devices: [.e1000e("0000:00:04.0", group: 4)])
    }

    @Test func driverOverrideRules() throws {
        let kernel = try kernel()
        let sysfs = kernel.sysfs
        let attribute = "bus/pci/devices/0000:00:04.0/driver_override"
        #expect(try sysfs.read(attribute) == "(null)")
        try sysfs.write("vfio-pci", to: attribute)
        #expect(try sysfs.read(attribute) == "vfio-pci")
        try sysfs.write("", to: attribute)  // a zero-byte write does not clear it
        #expect(try sysfs.read(attribute) == "vfio-pci")
        try sysfs.write("e1000e\nvfio-pci", to: attribute)  // cut at the first newline
        #expect(try sysfs.read(attribute) == "e1000e")
        try sysfs.write("\n", to: attribute)  // "\n" clears
        #expect(try sysfs.read(attribute) == "(null)")
        let tooLong = try #require(throws: SysfsError.self) { try sysfs.write(String(repeating: "x", count: 4095), to: attribute) }
        #expect(tooLong.errno == EINVAL)
    }

    @Test func overrideOnlyIdsMatchOnlyThroughTheOverride() throws {
        let kernel = try kernel()
        kernel.failProbe(driver: "e1000e", errno: nil)
        #expect(kernel.driver(of: e1000e) == "e1000e")
        try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers/e1000e/unbind")
        try kernel.load(ModuleName("vfio_pci")!)
        // vfio-pci's table is override_only: loading it binds nothing, bind is ENODEV.
        #expect(kernel.driver(of: e1000e) == nil)
        #expect(throws: SysfsError(.write, path: kernel.sysfs.path("bus/pci/drivers/vfio-pci/bind"), value: "0000:00:04.0", errno: ENODEV)) {
            try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers/vfio-pci/bind")
        }
        try kernel.sysfs.write("vfio-pci", to: "bus/pci/devices/0000:00:04.0/driver_override")
        // An override naming another driver blocks e1000e even though its id matches.
        try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers_probe")
        #expect(kernel.driver(of: e1000e) == "vfio-pci")
    }

    @Test func driversProbeSucceedsWhenNothingBinds() throws {
        let kernel = try kernel()
        try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers/e1000e/unbind")
        try kernel.sysfs.write("nosuchdriver", to: "bus/pci/devices/0000:00:04.0/driver_override")
        try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers_probe")
        #expect(kernel.driver(of: e1000e) == nil)
        #expect(kernel.sysfs.boundDriver(e1000e) == nil)
    }

    @Test func bindReturnsTheProbesError() throws {
        let kernel = try kernel()
        try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers/e1000e/unbind")
        kernel.failProbe(driver: "e1000e", errno: EIO)
        do {
            try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers/e1000e/bind")
            Issue.record("bind succeeded")
        } catch {
            #expect(error.errno == EIO)
        }
        kernel.failProbe(driver: "e1000e", errno: nil)
        try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers/e1000e/bind")
        #expect(kernel.sysfs.boundDriver(e1000e)?.rawValue == "e1000e")
        do {
            try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers/e1000e/bind")
            Issue.record("second bind succeeded")
        } catch {
            #expect(error.errno == EBUSY)
        }
    }

    @Test func moduleNameIsNotDriverName() throws {
        let kernel = try TestKernel(modules: [.nvgraceGPUVFIOPCI])
        try kernel.load(ModuleName("nvgrace-gpu-vfio-pci")!)
        #expect(kernel.sysfs.pciDrivers(ofModule: ModuleName("nvgrace_gpu_vfio_pci")!).map(\.rawValue) == ["nvgrace-gpu-vfio-pci"])
        #expect(kernel.sysfs.exists("bus/pci/drivers/nvgrace_gpu_vfio_pci") == false)
    }

    @Test func vfsDoNotProbeWithAutoprobeOff() throws {
        let kernel = try TestKernel(modules: [.vfioPCI], loaded: [.nvme], devices: [.nvmePF("0000:01:00.0", group: 1, totalVFs: 4)])
        kernel.clearEvents()
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("4", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        #expect(kernel.addresses.count == 5)
        #expect(!kernel.events.contains { if case .probe = $0 { true } else { false } })
        let vf = try PCIAddress(parsing: "0000:02:00.1")
        #expect(try kernel.sysfs.pciDevice(vf).physicalFunction?.description == "0000:01:00.0")
        // With an override the VF may probe.
        try kernel.load(ModuleName("vfio_pci")!)
        try kernel.sysfs.write("vfio-pci", to: "bus/pci/devices/0000:02:00.1/driver_override")
        try kernel.sysfs.write("0000:02:00.1", to: "bus/pci/drivers/vfio-pci/bind")
        #expect(kernel.driver(of: vf) == "vfio-pci")
        // Changing a non-zero VF count is EBUSY.
        #expect(throws: SysfsError.self) { try kernel.sysfs.write("2", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs") }
    }

    /// `drivers/pci/iov.c`, sriov_numvfs_store: a number, at most sriov_totalvfs, and VFs
    /// only through the PF's driver.
    @Test func sriovNumVFsTakesANumberAndNeedsThePFsDriver() throws {
        let kernel = try TestKernel(modules: [.nvme], devices: [.nvmePF("0000:01:00.0", group: 1, totalVFs: 4)])
        let attribute = "bus/pci/devices/0000:01:00.0/sriov_numvfs"
        func errno(_ value: String) -> Int32? {
            do {
                try kernel.sysfs.write(value, to: attribute)
                return nil
            } catch { return error.errno }
        }
        #expect(errno("2") == ENOENT)  // no driver on the PF
        #expect(errno("0") == nil)  // the count it has: nothing to do, driver or not
        #expect(errno("two") == EINVAL)
        #expect(errno("65536") == EINVAL)  // not a u16
        #expect(errno("5") == ERANGE)  // more than sriov_totalvfs
        #expect(kernel.addresses.count == 1)
        try kernel.load(ModuleName("nvme")!)
        #expect(errno("0x2\n") == nil)
        #expect(kernel.addresses.count == 3)
        #expect(errno("3") == EBUSY)
        #expect(errno("0") == nil)
        #expect(kernel.addresses.count == 1)
    }

    /// `drivers/pci/pci-sysfs.c`, remove_store: a number (kstrtoul); 0 leaves the device.
    @Test(arguments: [
        ("0", true as Bool?), ("0\n", true), ("00", true), ("1", false), ("+1\n", false), ("0x10", false), ("7", false),
        ("yes", nil), ("", nil), ("-1", nil), ("1 ", nil), ("08", nil), ("0x", nil),
    ])
    func removeTakesANumber(value: String, stays: Bool?) throws {
        let kernel = try kernel()
        do {
            try kernel.sysfs.write(value, to: "bus/pci/devices/0000:00:04.0/remove")
            #expect(stays != nil, "'\(value)' was taken")
        } catch {
            #expect(stays == nil, "'\(value)' was refused")
            #expect(error.errno == EINVAL)
        }
        #expect(kernel.addresses.contains(e1000e) == (stays ?? true))
    }

    @Test func vfsProbeTheDefaultDriverWithAutoprobeOn() throws {
        let kernel = try TestKernel(modules: [.nvme], devices: [.nvmePF("0000:01:00.0", totalVFs: 2)])
        try kernel.load(ModuleName("nvme")!)
        try kernel.sysfs.write("2", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        #expect(kernel.driver(of: try PCIAddress(parsing: "0000:02:00.0")) == "nvme")
    }

    @Test(arguments: [
        ("change 00000000-0000-0000-0000-000000000001 DRIVERFLAVOUR=vfio", true),
        ("change 00000000-0000-0000-0000-000000000001 DRIVER_FLAVOUR=vfio", false),
        ("change 00000000-0000-0000-0000-000000000001 FLAVOUR=vfio-pci", false),
        ("change not-a-uuid DRIVERFLAVOUR=vfio", false),
        ("frobnicate", false),
        ("change", true),
    ])
    func syntheticUeventsNeedAlphanumericArguments(value: String, accepted: Bool) throws {
        let kernel = try kernel()
        let heard = Heard()
        kernel.subscribe { heard.append($0) }
        do {
            try kernel.sysfs.write(value, to: "bus/pci/devices/0000:00:04.0/uevent")
            #expect(accepted)
            #expect(heard.all.last?.action == "change")
            if value.contains("DRIVERFLAVOUR") { #expect(heard.all.last?.properties["SYNTH_ARG_DRIVERFLAVOUR"] == "vfio") }
        } catch {
            #expect(!accepted)
            #expect(error.errno == EINVAL)
        }
    }

    @Test func iommuGroupsAreLinks() throws {
        let kernel = try kernel()
        #expect(try kernel.sysfs.pciDevice(e1000e).iommuGroup == 4)
        #expect(kernel.sysfs.list("kernel/iommu_groups/4/devices") == ["0000:00:04.0"])
    }
}

final class Heard: Sendable {
    private let events = Mutex<[KernelUevent]>([])
    func append(_ event: KernelUevent) { events.withLock { $0.append(event) } }
    var all: [KernelUevent] { events.withLock { $0 } }
}
