import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Testing
import Foundation

#if canImport(Glibc)
import Glibc
#endif

@Suite struct BinderTests {
    @Test func variantChosenOverVFIOPCIAndAutoloaded() throws {
        let fixture = try Fixture()
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .bound(driver: DriverName("virtio_vfio_pci")!, module: ModuleName("virtio_vfio_pci")!))
        #expect(outcome.previousDriver?.rawValue == "virtio-pci")
        #expect(fixture.kernel.driver(of: Fixture.virtioNet) == "virtio_vfio_pci")
        #expect(fixture.kernel.isLoaded("virtio_vfio_pci"))
        #expect(fixture.kernel.override(of: Fixture.virtioNet) == "virtio_vfio_pci")
        #expect(!fixture.kernel.isLoaded("vfio_pci"))  // never needed
    }

    @Test func noVariantMeansVFIOPCI() throws {
        let fixture = try Fixture()
        let outcome = try fixture.apply(Fixture.e1000e)
        #expect(outcome.result == .bound(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!))
        #expect(fixture.kernel.driver(of: Fixture.e1000e) == "vfio-pci")
    }

    @Test func failingVariantProbeFallsBackToVFIOPCI() throws {
        let fixture = try Fixture()
        fixture.kernel.failProbe(driver: "virtio_vfio_pci", errno: EIO)
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .fellBack(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!))
        #expect(outcome.attempts.first { !$0.succeeded }?.step == .bind)
        #expect(outcome.attempts.first { !$0.succeeded }?.errno == EIO)
        #expect(fixture.kernel.driver(of: Fixture.virtioNet) == "vfio-pci")
        #expect(fixture.kernel.override(of: Fixture.virtioNet) == "vfio-pci")
    }

    @Test func moduleThatFailsToLoadFallsBack() throws {
        let fixture = try Fixture()
        fixture.kernel.failLoad("virtio_vfio_pci", errno: ENOEXEC)
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .fellBack(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!))
        #expect(outcome.attempts[0].step == .load)
        #expect(outcome.attempts[0].errno == ENOEXEC)
        #expect(fixture.kernel.driver(of: Fixture.virtioNet) == "vfio-pci")
    }

    @Test func everyCandidateFailingRestoresTheOriginalDriver() throws {
        let fixture = try Fixture()
        fixture.kernel.failProbe(driver: "virtio_vfio_pci", errno: EIO)
        fixture.kernel.failProbe(driver: "vfio-pci", errno: EBUSY)
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .failedRestored(previous: DriverName("virtio-pci")!))
        #expect(!outcome.succeeded)
        #expect(outcome.attempts.filter { !$0.succeeded }.map(\.errno) == [EIO, EBUSY])
        #expect(fixture.kernel.driver(of: Fixture.virtioNet) == "virtio-pci")
        #expect(fixture.kernel.override(of: Fixture.virtioNet) == nil)
    }

    @Test func aPreviousOverrideIsPutBack() throws {
        let fixture = try Fixture()
        try fixture.kernel.sysfs.write("virtio-pci", to: "bus/pci/devices/0000:00:03.0/driver_override")
        fixture.kernel.failProbe(driver: "virtio_vfio_pci", errno: EIO)
        fixture.kernel.failProbe(driver: "vfio-pci", errno: EIO)
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .failedRestored(previous: DriverName("virtio-pci")!))
        #expect(fixture.kernel.override(of: Fixture.virtioNet) == "virtio-pci")
    }

    @Test func moduleNameIsNotDriverName() throws {
        let fixture = try Fixture()
        let outcome = try fixture.apply(Fixture.gpu)
        #expect(outcome.result == .bound(driver: DriverName("nvgrace-gpu-vfio-pci")!, module: ModuleName("nvgrace_gpu_vfio_pci")!))
        #expect(fixture.kernel.driver(of: Fixture.gpu) == "nvgrace-gpu-vfio-pci")
    }

    @Test func denyRuleSkipsTheVariant() throws {
        let fixture = try Fixture(config: "deny vfio vfio_pci:v00001AF4d00001041* virtio_vfio_pci\n")
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .bound(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!))
        #expect(!fixture.kernel.isLoaded("virtio_vfio_pci"))
    }

    @Test func equalSpecificityTieGoesToTheAdminRule() throws {
        let site = TestModule("site_vfio_pci", driver: "site-vfio-pci", ids: [.vfio(0x15B3, 0x101E)])
        let fixture = try Fixture(
            config: "variant vfio vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* site_vfio_pci\n", extraModules: [site])
        let outcome = try fixture.apply(Fixture.connectX)
        #expect(outcome.result == .bound(driver: DriverName("site-vfio-pci")!, module: ModuleName("site_vfio_pci")!))
    }

    @Test func deviceAlreadyOnAFlavourDriverIsLeftAlone() throws {
        let fixture = try Fixture()
        _ = try fixture.apply(Fixture.virtioNet)
        fixture.kernel.clearEvents()
        let again = try fixture.apply(Fixture.virtioNet)
        #expect(again.result == .alreadyBound(driver: DriverName("virtio_vfio_pci")!))
        #expect(fixture.kernel.events.isEmpty)  // not one write
    }

    @Test func revertBringsTheDefaultDriverBack() throws {
        let fixture = try Fixture()
        _ = try fixture.apply(Fixture.virtioNet)
        let outcome = try fixture.apply(Fixture.virtioNet, "none")
        #expect(outcome.result == .reverted(driver: DriverName("virtio-pci")!))
        #expect(fixture.kernel.driver(of: Fixture.virtioNet) == "virtio-pci")
        #expect(fixture.kernel.override(of: Fixture.virtioNet) == nil)
    }

    @Test func revertLoadsTheDefaultDriverWhenItIsNotLoaded() throws {
        let igb = TestModule("igb_test", driver: "igb-test", ids: [TestPCIID(vendor: 0x8086, device: 0x1533)])
        let kernel = try TestKernel(modules: [.vfioPCI, igb], devices: [TestDevice("0000:00:07.0", vendor: 0x8086, device: 0x1533, classCode: 0x020000)])
        let address = try PCIAddress(parsing: "0000:00:07.0")
        try kernel.sysfs.write("vfio-pci", to: "bus/pci/devices/0000:00:07.0/driver_override")
        try kernel.load(ModuleName("vfio_pci")!)
        #expect(kernel.driver(of: address) == "vfio-pci")
        let executor = try Fixture.executor(kernel)
        let outcome = executor.handle(address: address, requested: .revert)
        #expect(outcome.result == .reverted(driver: DriverName("igb-test")!))
        #expect(kernel.isLoaded("igb_test"))
    }

    @Test func revertOfADeviceOnItsDefaultDriverWritesNothing() throws {
        let fixture = try Fixture()
        fixture.kernel.clearEvents()
        let outcome = try fixture.apply(Fixture.e1000e, "none")
        #expect(outcome.result == .alreadyDefault(driver: DriverName("e1000e")!))
        #expect(fixture.kernel.events.isEmpty)
    }

    /// Its default driver exists but refuses the device: nothing is lost, the device goes
    /// back to the driver and override it had.
    @Test func revertThatNoDefaultDriverTakesIsRolledBack() throws {
        let fixture = try Fixture()
        _ = try fixture.apply(Fixture.e1000e)
        fixture.kernel.failProbe(driver: "e1000e", errno: EIO)
        let outcome = try fixture.apply(Fixture.e1000e, "none")
        guard case .revertFailed(let why) = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(why == "its default driver (e1000e) did not claim it; see the kernel log (dmesg) for the probe's error; put back on vfio-pci")
        #expect(!outcome.succeeded)
        #expect(fixture.kernel.driver(of: Fixture.e1000e) == "vfio-pci")
        #expect(fixture.kernel.override(of: Fixture.e1000e) == "vfio-pci")
    }

    @Test func unbindFailureStopsAndLeavesTheOldDriver() throws {
        let fixture = try Fixture()
        fixture.kernel.failWrite("bus/pci/drivers/virtio-pci/unbind", errno: EBUSY)
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .failedRestored(previous: DriverName("virtio-pci")!))
        #expect(outcome.attempts.first?.step == .unbind)
        #expect(fixture.kernel.driver(of: Fixture.virtioNet) == "virtio-pci")
        #expect(fixture.kernel.override(of: Fixture.virtioNet) == nil)
    }

    @Test func vfWithAutoprobeOffIsBoundThroughTheOverride() throws {
        let fixture = try Fixture()
        try fixture.kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try fixture.kernel.sysfs.write("3", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let vf = try PCIAddress(parsing: "0000:02:00.2")
        #expect(fixture.kernel.driver(of: vf) == nil)
        let outcome = try fixture.apply(vf)
        #expect(outcome.result == .bound(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!))
        #expect(!fixture.kernel.events.contains(.probe(vf, driver: "nvme", errno: nil)))
    }

    @Test func deviceRemovedBeforeTheRequestIsRefused() throws {
        let fixture = try Fixture()
        fixture.kernel.removeDevice(Fixture.virtioNet)
        let outcome = try fixture.apply(Fixture.virtioNet)
        guard case .refused(let why) = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(why.contains("no PCI device 0000:00:03.0"))
    }

    @Test func everyCandidateDeniedIsRefusedWithoutAWrite() throws {
        let fixture = try Fixture(config: """
            deny vfio vfio_pci:v00008086* vfio_pci
            """)
        fixture.kernel.clearEvents()
        let outcome = try fixture.apply(Fixture.e1000e)
        guard case .refused = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(fixture.kernel.events.isEmpty)
        #expect(fixture.kernel.driver(of: Fixture.e1000e) == "e1000e")
    }
}

extension Fixture {
    static func executor(_ kernel: TestKernel, procRoot: String? = nil) throws -> RequestExecutor {
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        return RequestExecutor(
            sysfs: kernel.sysfs, binder: Binder(sysfs: kernel.sysfs, loader: kernel, logger: .init(label: "t")),
            config: loaded.config, table: loaded.table, procRoot: procRoot ?? kernel.procRoot, probe: kernel)
    }
}

@Suite struct BinderNothingToUndoTests {
    @Test func whenNoModuleLoadsNothingIsWrittenAtAll() throws {
        let fixture = try Fixture()
        fixture.kernel.failLoad("virtio_vfio_pci", errno: ENOENT)
        fixture.kernel.failLoad("vfio_pci", errno: ENOENT)
        fixture.kernel.clearEvents()
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .failedRestored(previous: DriverName("virtio-pci")!))
        #expect(fixture.kernel.events.isEmpty)  // not even a driver_override write
        #expect(outcome.attempts.last?.message == "nothing was changed")
    }
}

@Suite struct BinderConcurrentLoadTests {
    /// Two requests load the same module: registering the driver binds every unbound device
    /// whose override already names it, so the other request's own bind meets EBUSY. The
    /// device is where it was asked to be: a success, not a rollback. (Seen as a flaky
    /// daemon test with several VFs bound concurrently.)
    @Test func bindThatFindsTheDeviceAlreadyOnTheDriverSucceeds() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("1", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let vf = try PCIAddress(parsing: "0000:02:00.0")
        // Just before the binder's bind, the device gets bound by someone else's probe.
        kernel.beforeWrite { [weak kernel] path in
            if path.hasSuffix("vfio-pci/bind") { try? kernel?.sysfs.write(vf.description, to: "bus/pci/drivers_probe") }
        }
        let outcome = try fixture.apply(vf)
        #expect(outcome.result == .bound(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!))
        #expect(kernel.driver(of: vf) == "vfio-pci")
    }
}

/// A variant driver built into the kernel is in `modules.builtin.alias.bin` only (depmod's
/// binary index; no line in modules.alias): it is found there and bound like a module.
@Suite struct BuiltinVariantTests {
    @Test func aBuiltInVariantFromTheBinaryIndexIsChosenAndBound() throws {
        var virtio = TestModule.virtioVFIOPCI
        virtio.builtin = true
        let kernel = try TestKernel(
            modules: [.vfioPCI, virtio], loaded: [.virtioPCI], devices: [.virtioNet("0000:00:03.0", group: 3)])
        // The index depmod wrote for built-in virtio_vfio_pci and vfio_pci (Fixtures/make-builtin-alias-bin).
        let index = try #require(Bundle.module.url(forResource: "Fixtures/modules.builtin.alias.bin", withExtension: nil))
        let bytes = try FileSystem.read(index.path)
        let fd = open(kernel.modulesDirectory + "/modules.builtin.alias.bin", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count)
        close(fd)
        #expect(!(try String(decoding: FileSystem.read(kernel.modulesDirectory + "/modules.alias"), as: UTF8.self)).contains("virtio_vfio_pci"))

        let executor = try Fixture.executor(kernel)
        let device = try kernel.sysfs.pciDevice(Fixture.virtioNet)
        let plan = executor.plan(for: device, flavour: .vfio)
        #expect(plan.candidates.first?.module.rawValue == "virtio_vfio_pci")
        #expect(plan.candidates.first?.source.kind == .builtinAlias)
        let outcome = executor.handle(address: Fixture.virtioNet, requested: .flavour(.vfio))
        #expect(outcome.result == .bound(driver: DriverName("virtio_vfio_pci")!, module: ModuleName("virtio_vfio_pci")!))
        #expect(kernel.driver(of: Fixture.virtioNet) == "virtio_vfio_pci")
    }
}
