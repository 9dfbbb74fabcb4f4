import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Each way a bind can go wrong after the first write, and what the device is left on.
@Suite struct BinderFailurePathTests {
    /// `bind` says yes, the device is not on the driver: only the verification sees it,
    /// and the next candidate is tried.
    @Test func bindThatSucceedsWithoutBindingIsCaughtByTheVerification() throws {
        let fixture = try Fixture()
        fixture.kernel.releaseAfterProbe(driver: "virtio_vfio_pci")
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .fellBack(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!))
        let failed = try #require(outcome.attempts.first { !$0.succeeded })
        #expect(failed.step == .verify)
        #expect(failed.message == "device's driver is none after binding virtio_vfio_pci")
        #expect(fixture.kernel.driver(of: Fixture.virtioNet) == "vfio-pci")
    }

    @Test func aModuleThatRegistersNoPCIDriverIsSkipped() throws {
        let notPCI = TestModule("site_vfio_pci", driver: "site-vfio-pci", ids: [.vfio(0x1AF4, 0x1041)], registersPCIDriver: false)
        let fixture = try Fixture(config: "variant vfio vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* site_vfio_pci\n", extraModules: [notPCI])
        let outcome = try fixture.apply(Fixture.virtioNet)
        let failed = try #require(outcome.attempts.first { !$0.succeeded })
        #expect(failed.step == .findDriver)
        #expect(failed.message == "module site_vfio_pci registered no PCI driver (nothing in /sys/module/site_vfio_pci/drivers)")
        #expect(outcome.result == .fellBack(driver: DriverName("virtio_vfio_pci")!, module: ModuleName("virtio_vfio_pci")!))
    }

    /// Every candidate failed and the old driver will not take the device back either:
    /// the binder tries drivers_probe, and says plainly where the device is.
    @Test func restoreThatFailsIsReportedWithWhereTheDeviceIs() throws {
        let fixture = try Fixture()
        fixture.kernel.failProbe(driver: "virtio_vfio_pci", errno: EIO)
        fixture.kernel.failProbe(driver: "vfio-pci", errno: EIO)
        fixture.kernel.beforeWrite { [weak kernel = fixture.kernel] path in
            // The old driver breaks once the device has left it.
            if path.hasSuffix("virtio-pci/unbind") { kernel?.failProbe(driver: "virtio-pci", errno: ENXIO) }
        }
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .failedNotRestored(previous: DriverName("virtio-pci")!, now: nil))
        let restore = outcome.attempts.filter { $0.step == .restore }
        #expect(restore.map(\.errno) == [ENXIO, ENODEV])
        #expect(restore.first?.message.hasSuffix("; trying drivers_probe") == true)
        #expect(restore.last?.message == "device is on no driver, not virtio-pci")
        #expect(fixture.kernel.events.contains(.probe(Fixture.virtioNet, driver: "virtio-pci", errno: ENXIO)))
        #expect(fixture.kernel.override(of: Fixture.virtioNet) == nil)
    }

    @Test func deviceRemovedAfterTheUnbindIsGoneNotRestored() throws {
        let fixture = try Fixture()
        fixture.kernel.beforeWrite { [weak kernel = fixture.kernel] path in
            if path.hasSuffix("virtio_vfio_pci/bind") { kernel?.removeDevice(Fixture.virtioNet) }
        }
        let outcome = try fixture.apply(Fixture.virtioNet)
        #expect(outcome.result == .gone)
        #expect(!outcome.attempts.contains { $0.step == .restore })  // nothing to undo on a device that is not there
    }

    /// A device already on one of the flavour's drivers keeps it, and its override is made
    /// to name it, so a later reprobe does not take it away.
    @Test func alreadyBoundWithoutAnOverrideGetsOne() throws {
        let fixture = try Fixture()
        let vf = try PCIAddress(parsing: "0000:02:00.0")
        try fixture.kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try fixture.kernel.sysfs.write("1", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        #expect(try fixture.apply(vf).succeeded)
        try fixture.kernel.sysfs.write("\n", to: "bus/pci/devices/\(vf)/driver_override")
        fixture.kernel.clearEvents()
        let outcome = try fixture.apply(vf)
        #expect(outcome.result == .alreadyBound(driver: DriverName("vfio-pci")!))
        #expect(fixture.kernel.events == [.overrideWritten(vf, value: "vfio-pci")])
        #expect(fixture.kernel.driver(of: vf) == "vfio-pci")
    }

    @Test func everyCandidateDeniedNamesTheRules() throws {
        let fixture = try Fixture(config: "deny vfio vfio_pci:v00008086* vfio_pci\n")
        let outcome = try fixture.apply(Fixture.e1000e)
        guard case .refused(let why) = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(why == "no candidate driver for flavour vfio: every one is denied (vfio_pci by \(fixture.kernel.configDirectory)/50-test.conf:1); remove a deny rule to allow one")
    }
}

/// `none`: what the kernel gives the device by itself, and the device back as it was when
/// the kernel's default driver exists and fails.
@Suite struct RevertTests {
    @Test func aVFUnderAPFWithAutoprobeOffEndsWithoutADriverAndThatIsTheDefault() throws {
        let fixture = try Fixture()
        let vf = try PCIAddress(parsing: "0000:02:00.0")
        try fixture.kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try fixture.kernel.sysfs.write("1", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        #expect(try fixture.apply(vf).succeeded)
        fixture.kernel.clearEvents()
        let outcome = try fixture.apply(vf, "none")
        #expect(outcome.result == .reverted(driver: nil))
        #expect(outcome.succeeded)
        #expect(outcome.attempts.contains { $0.message.hasPrefix("not probed: its PF 0000:01:00.0 has sriov_drivers_autoprobe 0") })
        #expect(fixture.kernel.driver(of: vf) == nil)
        #expect(fixture.kernel.override(of: vf) == nil)
        #expect(!fixture.kernel.events.contains { if case .probe = $0 { true } else { false } })
    }

    /// A blacklisted default driver is not loaded (as udev would not load it): no driver
    /// is the kernel's own answer, not a failure to roll back.
    @Test func aBlacklistedDefaultDriverIsNotLoadedAndNoDriverIsSuccess() throws {
        let igb = TestModule("igb_test", driver: "igb-test", ids: [TestPCIID(vendor: 0x8086, device: 0x1533)])
        let kernel = try TestKernel(
            modules: [.vfioPCI, igb], devices: [TestDevice("0000:00:07.0", vendor: 0x8086, device: 0x1533, classCode: 0x020000)])
        let address = try PCIAddress(parsing: "0000:00:07.0")
        try kernel.sysfs.write("vfio-pci", to: "bus/pci/devices/0000:00:07.0/driver_override")
        try kernel.load(ModuleName("vfio_pci")!)
        kernel.blacklist("igb_test")
        let outcome = try Fixture.executor(kernel).handle(address: address, requested: .revert)
        #expect(outcome.result == .reverted(driver: nil))
        #expect(outcome.attempts.last?.message == "no driver: no module serves pci:v00008086d00001533sv00008086sd00000000bc02sc00i00 (or only blacklisted ones)")
        #expect(!kernel.isLoaded("igb_test"))
        #expect(kernel.driver(of: address) == nil)
    }

    @Test func unbindThatFailsLeavesTheDeviceAsItWas() throws {
        let fixture = try Fixture()
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        fixture.kernel.failWrite("bus/pci/drivers/vfio-pci/unbind", errno: EBUSY)
        let outcome = try fixture.apply(Fixture.e1000e, "none")
        guard case .revertFailed(let why) = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(why.hasPrefix("could not unbind vfio-pci: writing '0000:00:04.0' to "))
        #expect(why.hasSuffix("EBUSY (Device or resource busy); left on vfio-pci"))
        #expect(fixture.kernel.driver(of: Fixture.e1000e) == "vfio-pci")
        #expect(fixture.kernel.override(of: Fixture.e1000e) == "vfio-pci")
    }

    @Test func overrideThatCannotBeClearedChangesNothing() throws {
        let fixture = try Fixture()
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        fixture.kernel.failWrite("bus/pci/devices/0000:00:04.0/driver_override", errno: EACCES)
        let outcome = try fixture.apply(Fixture.e1000e, "none")
        guard case .revertFailed(let why) = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(why.hasPrefix("could not clear driver_override: "))
        #expect(why.hasSuffix("; nothing was changed"))
        #expect(fixture.kernel.driver(of: Fixture.e1000e) == "vfio-pci")
    }

    /// A NIC pinned to its own driver by an override (driverctl's way) and carrying the
    /// default route: a revert would unbind it, so the in-use guard stands in the way.
    @Test func revertThatWouldUnbindANICInUseIsRefusedUnlessForced() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        try kernel.setInterface("enp0s4", up: true, route: .default)
        try kernel.sysfs.write("e1000e", to: "bus/pci/devices/0000:00:04.0/driver_override")
        let executor = try Fixture.executor(kernel, procRoot: kernel.procRoot)
        kernel.clearEvents()
        let refused = executor.handle(address: Fixture.e1000e, requested: .revert)
        guard case .refused(let why) = refused.result else { Issue.record("\(refused.result)"); return }
        #expect(why == "0000:00:04.0 is in use by the host: network interface enp0s4 is up and carries the default route; use --force to take it anyway")
        #expect(kernel.events.isEmpty)
        let forced = executor.handle(address: Fixture.e1000e, requested: .revert, options: RequestOptions(force: true))
        #expect(forced.result == .reverted(driver: DriverName("e1000e")!))
        #expect(kernel.override(of: Fixture.e1000e) == nil)
    }

    /// Unbinding a VFIO driver takes nothing from the host: only a VFIO user holding the
    /// device stands in the way of that revert (RequestGuardTests), nothing else the guard sees.
    @Test func revertFromVFIOIsNotGuardedForTheHostsUse() throws {
        let fixture = try Fixture()
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        try fixture.kernel.setBootVGA(Fixture.e1000e, console: true)  // would be a reason, were it guarded
        let outcome = try Fixture.executor(fixture.kernel, procRoot: fixture.kernel.procRoot).handle(address: Fixture.e1000e, requested: .revert)
        #expect(outcome.result == .reverted(driver: DriverName("e1000e")!))
    }
}

/// libkmod returns at once for a module another process is still loading: the binder waits
/// for its driver while `initstate` says "coming", and not forever.
@Suite struct ModuleComingTests {
    let directory: TemporaryDirectory
    var root: String { directory.path }

    init() throws {
        directory = try TemporaryDirectory(prefix: "flavour-coming")
        for directory in ["/module", "/module/site_vfio_pci", "/module/site_vfio_pci/drivers", "/bus", "/bus/pci",
                          "/bus/pci/drivers", "/bus/pci/drivers/site-vfio-pci"] {
            mkdir(root + directory, 0o755)
        }
        try Self.write(root + "/module/site_vfio_pci/initstate", "coming\n")
    }

    /// Whole, by rename: a sysfs attribute never reads empty, and the binder reads
    /// `initstate` while the other thread changes it.
    static func write(_ path: String, _ text: String) throws {
        let fd = open(path + ".new", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
        try #require(rename(path + ".new", path) == 0)
    }

    @Test func theDriverOfAModuleStillComingIsWaitedFor() throws {
        let root = root
        let registered = PosixThreadStarter.start {
            usleep(30_000)
            symlink("../../../bus/pci/drivers/site-vfio-pci", root + "/module/site_vfio_pci/drivers/pci:site-vfio-pci")
            try? Self.write(root + "/module/site_vfio_pci/initstate", "live\n")
        }
        let drivers = Sysfs(root: root).pciDrivers(ofModule: ModuleName("site_vfio_pci")!, waitingUpTo: .seconds(5))
        registered.join()
        #expect(drivers == [DriverName("site-vfio-pci")!])
    }

    @Test func aModuleThatStaysComingIsGivenUpOn() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let drivers = Sysfs(root: root).pciDrivers(ofModule: ModuleName("site_vfio_pci")!, waitingUpTo: .milliseconds(50))
        #expect(drivers.isEmpty)
        #expect(clock.now - start >= .milliseconds(50))
    }
}

/// A joinable thread for the tests above (Foundation-free).
final class PosixThreadStarter: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void

    private init(_ body: @escaping () -> Void) { self.body = body }

    static func start(_ body: @escaping () -> Void) -> PosixThreadStarter {
        let starter = PosixThreadStarter(body)
        let box = Unmanaged.passRetained(starter).toOpaque()
        pthread_create(&starter.thread, nil, { argument in
            let starter = Unmanaged<PosixThreadStarter>.fromOpaque(argument!).takeRetainedValue()
            starter.body()
            return nil
        }, box)
        return starter
    }

    func join() { pthread_join(thread, nil) }
}
