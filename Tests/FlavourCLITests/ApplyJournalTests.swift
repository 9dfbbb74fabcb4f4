import FlavourCLI
import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `flavourctl apply` keeps flavourd's crash journal: it settles what a killed process left,
/// and it never changes a device another live process is changing.
@Suite struct ApplyJournalTests {
    /// A flavourctl killed after unbinding e1000e left it driverless with an override, and
    /// its record. The next apply puts it back first, says so, then does what it was asked.
    @Test func aStaleRecordIsSettledBeforeTheRequest() throws {
        let kernel = try makeKernel()
        try kernel.load(ModuleName("vfio_pci")!)
        let killed = InFlightJournal(directory: kernel.root + "/run/inflight")
        try killed.begin(InFlightRecord(
            address: e1000e, operation: .bind, previousDriver: DriverName("e1000e"), previousOverride: nil))
        killed.close()  // as the kill did: its locks went, the record of its change in flight stayed
        try kernel.sysfs.write("vfio-pci", to: "bus/pci/devices/0000:00:04.0/driver_override")
        try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers/e1000e/unbind")
        let run = Run(kernel: kernel)
        #expect(run("apply", "0000:00:03.0", "vfio") == 0, "\(run.output)")
        #expect(run.standardError == "recovered: 0000:00:04.0: interrupted bind, restored to e1000e")
        #expect(kernel.driver(of: e1000e) == "e1000e")
        #expect(kernel.override(of: e1000e) == nil)
        #expect(kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        #expect(FileSystem.list(kernel.root + "/run/inflight") == [".lock"])  // no record file left behind
    }

    @Test func aDeviceAnotherLiveProcessIsChangingIsRefused() throws {
        let kernel = try makeKernel()
        let holder = InFlightJournal(directory: kernel.root + "/run/inflight")
        try holder.begin(InFlightRecord(
            address: virtioNet, operation: .bind, previousDriver: DriverName("virtio-pci"), previousOverride: nil))
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        #expect(run("apply", "0000:00:03.0", "vfio") == 1)
        #expect(run.output.contains(
            "0000:00:03.0: nothing done: the device is being changed by pid \(getpid()) (\(InFlightRecord.ownCommand)); nothing was written"))
        #expect(kernel.events.isEmpty)
        withExtendedLifetime(holder) {}
    }
}
