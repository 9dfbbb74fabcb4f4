import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The two windows of a kernel adding a VF (TestKernel+AddWindows) that flavourd's kernel
/// source fell into at 1,000 VFs (issue 13): a probe attempt's transient `driver` link read as
/// the VF's previous driver, and a bind before the PCI core finished adding the VF.
@Suite struct AddWindowTests {
    static let vf = try! PCIAddress(parsing: "0000:02:00.0")
    static let vfioPCI = DriverName("vfio-pci")!

    /// Autoprobe off, one VF: nvme (loaded) matches it, as a QEMU NVMe VF has its PF's ids.
    static func fixtureWithVF(holdingAttempts: Bool = false, deferringAdd: Bool = false) throws -> Fixture {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        try kernel.sysfs.write("0", to: "bus/pci/devices/\(Fixture.nvmePF)/sriov_drivers_autoprobe")
        kernel.holdProbeAttempts(holdingAttempts)
        kernel.deferBusAdd(deferringAdd)
        try kernel.sysfs.write("1", to: "bus/pci/devices/\(Fixture.nvmePF)/sriov_numvfs")
        kernel.clearEvents()
        return fixture
    }

    @Test func theTestKernelShowsAProbeAttemptsLinkUntilTheDeviceLockIsTaken() throws {
        let fixture = try Self.fixtureWithVF(holdingAttempts: true)
        let kernel = fixture.kernel
        #expect(try kernel.sysfs.pciDevice(Self.vf).driver == "nvme")
        #expect(kernel.driver(of: Self.vf) == nil)
        // unbind_store waits for the attempt, then finds no driver.
        #expect(throws: SysfsError.self) { try kernel.sysfs.write(Self.vf.description, to: "bus/pci/drivers/nvme/unbind") }
        #expect(kernel.sysfs.boundDriver(Self.vf) == nil)
        #expect(!kernel.events.contains { if case .probe = $0 { true } else { false } })
    }

    /// The VF is read while nvme's refused attempt shows: flavourd must not take nvme for its
    /// previous driver (the unbind would fail, and the restore would bind nvme: nvme's probe
    /// running on a VF whose PF's autoprobe is off).
    @Test func aProbeAttemptsLinkIsNotThePreviousDriver() throws {
        let fixture = try Self.fixtureWithVF(holdingAttempts: true)
        let kernel = fixture.kernel
        let outcome = try fixture.apply(Self.vf)
        #expect(outcome.result == .bound(driver: Self.vfioPCI, module: ModuleName("vfio_pci")!))
        #expect(outcome.previousDriver == nil)
        #expect(kernel.driver(of: Self.vf) == "vfio-pci")
        #expect(!kernel.events.contains(.probe(Self.vf, driver: "nvme", errno: nil)))
        #expect(!kernel.events.contains(.bound(Self.vf, driver: "nvme")))
    }

    /// When every candidate fails, the VF goes back to no driver, never onto the attempt's.
    @Test func aFailedRequestNeverRestoresOntoAProbeAttemptsDriver() throws {
        let fixture = try Self.fixtureWithVF(holdingAttempts: true)
        let kernel = fixture.kernel
        kernel.failProbe(driver: "vfio-pci", errno: EINVAL)
        let outcome = try fixture.apply(Self.vf)
        #expect(outcome.result == .failedRestored(previous: nil))
        #expect(kernel.driver(of: Self.vf) == nil)
        #expect(kernel.override(of: Self.vf) == nil)
        #expect(!kernel.events.contains(.probe(Self.vf, driver: "nvme", errno: nil)))
    }

    /// A `driver` link that shows right after the override write and is gone at the unbind
    /// (seen at 1,000 VFs on 6.12, TestKernel.showLinkAfterNextOverride): the VF had no driver,
    /// it is bound, and nvme's probe never runs.
    /// `surviving: 1`: the link is still there after the unbind's ENODEV (as in the second
    /// boot); the kernel's answer stands either way.
    @Test(arguments: [0, 1]) func aLinkGoneAtTheUnbindIsNotThePreviousDriver(surviving: Int) throws {
        let fixture = try Self.fixtureWithVF()
        let kernel = fixture.kernel
        kernel.showLinkAfterNextOverride(Self.vf, driver: "nvme", surviving: surviving)
        let outcome = try fixture.apply(Self.vf)
        #expect(outcome.result == .bound(driver: Self.vfioPCI, module: ModuleName("vfio_pci")!))
        #expect(outcome.previousDriver == nil)
        #expect(kernel.driver(of: Self.vf) == "vfio-pci")
        #expect(!kernel.events.contains { if case .probe(Self.vf, "nvme", _) = $0 { true } else { false } })
    }

    /// The same link, and then every candidate fails: the VF goes back to no driver and no
    /// override, and nvme's probe never runs (before, the rollback bound nvme).
    @Test func aFailedRequestNeverRestoresOntoALinkGoneAtTheUnbind() throws {
        let fixture = try Self.fixtureWithVF()
        let kernel = fixture.kernel
        kernel.showLinkAfterNextOverride(Self.vf, driver: "nvme")
        kernel.failProbe(driver: "vfio-pci", errno: EINVAL)
        let outcome = try fixture.apply(Self.vf)
        #expect(outcome.result == .failedRestored(previous: nil))
        #expect(kernel.driver(of: Self.vf) == nil)
        #expect(kernel.override(of: Self.vf) == nil)
        #expect(!kernel.events.contains { if case .probe(Self.vf, "nvme", _) = $0 { true } else { false } })
    }

    /// The link after the override write names nvme, and by the unbind the PCI core has
    /// finished adding the VF: pci_bus_add_device's device_attach bound vfio-pci through the
    /// override just written, so the unbind is ENODEV with the link naming vfio-pci (the third
    /// 1,000-VF boot under CPUWeight=1000: the binder stopped, and the rollback wrote
    /// driver_override=nvme and bound nvme, whose probe ran on three VFs). The device is on the
    /// driver asked for: that is the bind.
    @Test func theKernelsOwnAttachDuringTheUnbindIsTheBind() throws {
        let fixture = try Self.fixtureWithVF(deferringAdd: true)
        let kernel = fixture.kernel
        kernel.showLinkAfterNextOverride(Self.vf, driver: "nvme")
        kernel.beforeWrite { [weak kernel] path in
            if path.hasSuffix("drivers/nvme/unbind") { try? kernel?.finishAdding(Self.vf) }
        }
        let outcome = try fixture.apply(Self.vf)
        #expect(outcome.result == .bound(driver: Self.vfioPCI, module: ModuleName("vfio_pci")!))
        #expect(outcome.previousDriver == nil)
        #expect(kernel.driver(of: Self.vf) == "vfio-pci")
        #expect(kernel.override(of: Self.vf) == "vfio-pci")
        #expect(!kernel.events.contains { if case .probe(Self.vf, "nvme", _) = $0 { true } else { false } })
    }

    /// The crash journal's record is corrected too: a restart after a crash mid-bind puts the
    /// VF back on no driver, never on the attempt's.
    @Test func theCrashRecordTakesTheSettledDriver() throws {
        let fixture = try Self.fixtureWithVF(holdingAttempts: true)
        let kernel = fixture.kernel
        let recorder = BeginRecorder()
        let binder = Binder(sysfs: kernel.sysfs, loader: kernel, logger: .init(label: "t"), steps: recorder)
        let executor = try fixture.executor()
        let device = try kernel.sysfs.pciDevice(Self.vf)
        let outcome = binder.apply(executor.plan(for: device, flavour: try #require(executor.config.flavour(named: "vfio"))), to: device)
        #expect(outcome.result == .bound(driver: Self.vfioPCI, module: ModuleName("vfio_pci")!))
        #expect(recorder.records.withLock { $0.map(\.previousDriver) } == [DriverName("nvme")!, nil])
    }

    @Test func theTestKernelRefusesABindBeforeTheDeviceIsFullyAdded() throws {
        let fixture = try Self.fixtureWithVF(deferringAdd: true)
        let kernel = fixture.kernel
        try kernel.load(ModuleName("vfio_pci")!)
        try kernel.sysfs.write("vfio-pci", to: "bus/pci/devices/\(Self.vf)/driver_override")
        #expect(throws: SysfsError(.write, path: kernel.sysfs.path("bus/pci/drivers/vfio-pci/bind"), value: Self.vf.description, errno: ENODEV)) {
            try kernel.sysfs.write(Self.vf.description, to: "bus/pci/drivers/vfio-pci/bind")
        }
        // pci_bus_add_device's device_attach: the override names vfio-pci, so it binds.
        try kernel.finishAdding(Self.vf)
        #expect(kernel.driver(of: Self.vf) == "vfio-pci")
    }

    /// The request comes before the PCI core has finished adding the VF: the first bind is
    /// ENODEV, and the bind is tried again once the device is added.
    @Test func aBindBeforeTheDeviceIsFullyAddedIsRetried() throws {
        let fixture = try Self.fixtureWithVF(deferringAdd: true)
        let kernel = fixture.kernel
        let binds = Atomic<Int>(0)
        kernel.beforeWrite { [weak kernel] path in
            guard path.hasSuffix("drivers/vfio-pci/bind") else { return }
            // The second bind finds the device added (as pci_bus_add_device ends meanwhile).
            if binds.add(1, ordering: .relaxed).newValue == 2 { try? kernel?.finishAdding(Self.vf) }
        }
        let outcome = try fixture.apply(Self.vf)
        #expect(outcome.result == .bound(driver: Self.vfioPCI, module: ModuleName("vfio_pci")!))
        #expect(binds.load(ordering: .relaxed) == 2)
        #expect(kernel.driver(of: Self.vf) == "vfio-pci")
    }

    /// The PCI core finishes adding the VF only after more tries than a device it has added
    /// gets (the writer of sriov_numvfs starved on a busy host): while procfs shows no entry
    /// for it, the bind waits, and binds it once it is added.
    @Test func aDeviceAddedLaterThanTheRetriesIsWaitedFor() throws {
        let fixture = try Self.fixtureWithVF(deferringAdd: true)
        let kernel = fixture.kernel
        let binds = Atomic<Int>(0)
        let addedAt = Binder.notYetAddedRetries + 4
        kernel.beforeWrite { [weak kernel] path in
            guard path.hasSuffix("drivers/vfio-pci/bind") else { return }
            if binds.add(1, ordering: .relaxed).newValue == addedAt { try? kernel?.finishAdding(Self.vf) }
        }
        let outcome = try fixture.apply(Self.vf, notYetAddedLimit: .seconds(20))
        #expect(outcome.result == .bound(driver: Self.vfioPCI, module: ModuleName("vfio_pci")!))
        #expect(binds.load(ordering: .relaxed) == addedAt)
        #expect(kernel.driver(of: Self.vf) == "vfio-pci")
    }

    /// pci_bus_add_device's own device_attach binds the VF while the bind waits (the override
    /// names vfio-pci): that is the bind done, with no write of its own succeeding.
    @Test func theKernelsAttachDuringTheWaitIsTheBind() throws {
        let fixture = try Self.fixtureWithVF(deferringAdd: true)
        let kernel = fixture.kernel
        let binds = Atomic<Int>(0)
        kernel.beforeWrite { [weak kernel] path in
            guard path.hasSuffix("drivers/vfio-pci/bind"), binds.add(1, ordering: .relaxed).newValue == 3 else { return }
            // Added as this bind is written: device_attach binds it first, and the write finds it bound (EBUSY).
            try? kernel?.finishAdding(Self.vf)
        }
        let outcome = try fixture.apply(Self.vf)
        #expect(outcome.result == .bound(driver: Self.vfioPCI, module: ModuleName("vfio_pci")!))
        #expect(kernel.driver(of: Self.vf) == "vfio-pci")
        #expect(kernel.events.filter { $0 == .bound(Self.vf, driver: "vfio-pci") }.count == 1)
    }

    /// A device that never finishes being added is waited for up to the limit, then put back
    /// as it was.
    @Test func theWaitForADeviceNotAddedIsBounded() throws {
        let fixture = try Self.fixtureWithVF(deferringAdd: true)
        let kernel = fixture.kernel
        let binds = Atomic<Int>(0)
        kernel.beforeWrite { path in
            if path.hasSuffix("drivers/vfio-pci/bind") { binds.add(1, ordering: .relaxed) }
        }
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try fixture.apply(Self.vf, notYetAddedLimit: .milliseconds(400))
        #expect(clock.now - start >= .milliseconds(400))
        #expect(outcome.result == .failedRestored(previous: nil))
        #expect(binds.load(ordering: .relaxed) > 1)
        #expect(kernel.driver(of: Self.vf) == nil)
        #expect(kernel.override(of: Self.vf) == nil)
    }

    /// An added device whose probe refuses with ENODEV is the probe's answer, not the window:
    /// tried again a bounded number of times, never for the whole wait.
    @Test func anAddedDevicesENODEVIsTriedABoundedNumberOfTimes() throws {
        let fixture = try Self.fixtureWithVF()
        let kernel = fixture.kernel
        kernel.failProbe(driver: "vfio-pci", errno: ENODEV)
        let binds = Atomic<Int>(0)
        kernel.beforeWrite { path in
            if path.hasSuffix("drivers/vfio-pci/bind") { binds.add(1, ordering: .relaxed) }
        }
        let outcome = try fixture.apply(Self.vf, notYetAddedLimit: .seconds(60))
        #expect(outcome.result == .failedRestored(previous: nil))
        #expect(binds.load(ordering: .relaxed) > 1)
        #expect(binds.load(ordering: .relaxed) <= Binder.notYetAddedRetries + 1)
        #expect(kernel.driver(of: Self.vf) == nil)
    }

    /// Without procfs to tell (no proc root given), the window is tried a bounded number of
    /// times, then the device put back as it was.
    @Test func withoutProcfsTheRetryIsBounded() throws {
        let fixture = try Self.fixtureWithVF(deferringAdd: true)
        let kernel = fixture.kernel
        let binds = Atomic<Int>(0)
        kernel.beforeWrite { path in
            if path.hasSuffix("drivers/vfio-pci/bind") { binds.add(1, ordering: .relaxed) }
        }
        let binder = Binder(sysfs: kernel.sysfs, loader: kernel, logger: .init(label: "t"), procRoot: nil, notYetAddedLimit: .seconds(60))
        let executor = try fixture.executor()
        let device = try kernel.sysfs.pciDevice(Self.vf)
        let outcome = binder.apply(executor.plan(for: device, flavour: try #require(executor.config.flavour(named: "vfio"))), to: device)
        #expect(outcome.result == .failedRestored(previous: nil))
        #expect(binds.load(ordering: .relaxed) == Binder.notYetAddedRetries + 1)
        #expect(kernel.driver(of: Self.vf) == nil)
        #expect(kernel.override(of: Self.vf) == nil)
    }

    /// The test kernel's procfs entry comes with pci_bus_add_device and goes with the device.
    @Test func theProcfsEntryMarksAFullyAddedDevice() throws {
        let fixture = try Self.fixtureWithVF(deferringAdd: true)
        let kernel = fixture.kernel
        let binder = Binder(sysfs: kernel.sysfs, loader: kernel, logger: .init(label: "t"), procRoot: kernel.procRoot)
        #expect(binder.isFullyAdded(Fixture.nvmePF) == true)
        #expect(binder.isFullyAdded(Self.vf) == false)
        try kernel.finishAdding(Self.vf)
        #expect(binder.isFullyAdded(Self.vf) == true)
        try kernel.sysfs.write("0", to: "bus/pci/devices/\(Fixture.nvmePF)/sriov_numvfs")
        #expect(binder.isFullyAdded(Self.vf) == false)
        let withoutProcfs = Binder(sysfs: kernel.sysfs, loader: kernel, logger: .init(label: "t"), procRoot: kernel.root + "/nowhere")
        #expect(withoutProcfs.isFullyAdded(Self.vf) == nil)
    }
}

/// Keeps every record `begin` was given.
final class BeginRecorder: BindStepRecorder {
    let records = Mutex<[InFlightRecord]>([])
    func lock(_ address: PCIAddress) throws(InFlightRecord.Refusal) {}
    func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal) { records.withLock { $0.append(record) } }
    func end(address: PCIAddress) {}
    func unlock(_ address: PCIAddress) {}
}
