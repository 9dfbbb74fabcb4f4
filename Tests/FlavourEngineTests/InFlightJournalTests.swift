import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Logging
import Testing

/// A daemon killed in the middle of a bind leaves the kernel as it was at that moment and
/// its journal record; the next start must settle the device: roll back what did not
/// complete, keep a bind that did. Each case replays the binder's own writes up to the
/// crash point.
@Suite struct InFlightJournalTests {
    enum CrashPoint: CaseIterable { case afterOverride, afterUnbind, afterBind }

    @Test(arguments: CrashPoint.allCases)
    func restartAfterACrashSettlesTheDevice(at point: CrashPoint) throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        let sysfs = kernel.sysfs
        try kernel.load(ModuleName("vfio_pci")!)
        let journal = InFlightJournal(directory: kernel.root + "/run-inflight")
        let address = Fixture.e1000e
        let vfio = DriverName("vfio-pci")!, e1000e = DriverName("e1000e")!

        journal.begin(address: address, previousDriver: e1000e, previousOverride: nil)
        try sysfs.write(vfio.rawValue, to: "bus/pci/devices/\(address)/driver_override")
        if point != .afterOverride {
            try sysfs.write(address.description, to: "bus/pci/drivers/\(e1000e)/unbind")
            #expect(kernel.driver(of: address) == nil)
        }
        if point == .afterBind {
            try sysfs.write(address.description, to: "bus/pci/drivers/\(vfio)/bind")
        }
        // The process dies here; a new one starts.
        let restarted = InFlightJournal(directory: kernel.root + "/run-inflight")
        #expect(restarted.records().count == 1)
        let report = restarted.recover(sysfs: sysfs, logger: Logger(label: "t"))
        if point == .afterBind {
            // The bind completed: the device is where the request wanted it.
            #expect(report == ["\(address): interrupted after binding vfio-pci, kept"])
            #expect(kernel.driver(of: address) == "vfio-pci")
            #expect(kernel.override(of: address) == "vfio-pci")
        } else {
            #expect(report == ["\(address): interrupted, restored to e1000e"])
            #expect(kernel.driver(of: address) == "e1000e")
            #expect(kernel.override(of: address) == nil)
        }
        #expect(restarted.records().isEmpty)
    }

    @Test func aCompletedBindLeavesNoRecord() throws {
        let fixture = try Fixture()
        let journal = InFlightJournal(directory: fixture.kernel.root + "/run-inflight")
        let loaded = try MatchTableLoader(configDirectory: fixture.kernel.configDirectory, modulesDirectory: fixture.kernel.modulesDirectory).load()
        let binder = Binder(sysfs: fixture.kernel.sysfs, loader: fixture.kernel, logger: Logger(label: "t"), steps: journal)
        let executor = RequestExecutor(sysfs: fixture.kernel.sysfs, binder: binder, config: loaded.config, table: loaded.table)
        let outcome = executor.handle(address: Fixture.virtioNet, requested: .flavour(.vfio))
        #expect(outcome.succeeded)
        #expect(journal.records().isEmpty)
    }

    @Test func aVFThatHadNoDriverIsLeftWithoutOneAndWithoutAnOverride() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("1", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        try kernel.load(ModuleName("vfio_pci")!)
        let vf = try PCIAddress(parsing: "0000:02:00.0")
        let journal = InFlightJournal(directory: kernel.root + "/run-inflight")
        journal.begin(address: vf, previousDriver: nil, previousOverride: nil)
        try kernel.sysfs.write("vfio-pci", to: "bus/pci/devices/\(vf)/driver_override")
        _ = journal.recover(sysfs: kernel.sysfs, logger: Logger(label: "t"))
        #expect(kernel.override(of: vf) == nil)
        #expect(kernel.driver(of: vf) == nil)
    }
}
