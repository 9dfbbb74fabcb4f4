import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The crash journal's device lock, with another actor's bind in the moment before it is
/// taken: whatever the change reads of the device must come after that moment.
final class BindBeforeTheLock: BindStepRecorder, Sendable {
    let journal: InFlightJournal
    let actor: @Sendable () -> Void
    private let acted = Atomic<Bool>(false)

    init(journal: InFlightJournal, actor: @escaping @Sendable () -> Void) {
        self.journal = journal
        self.actor = actor
    }

    /// The other actor moves the device, once, just before flavourd's lock is taken
    /// (`lock`, or `begin` where nobody took it before).
    private func actOnce() {
        if !acted.exchange(true, ordering: .relaxed) { actor() }
    }

    func lock(_ address: PCIAddress) throws(InFlightRecord.Refusal) {
        actOnce()
        try journal.lock(address)
    }

    func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal) {
        actOnce()
        try journal.begin(record)
    }

    func end(address: PCIAddress) { journal.end(address: address) }
    func unlock(_ address: PCIAddress) { journal.unlock(address) }
}

@Suite struct ReadAfterLockTests {
    /// A device without a driver; a request for vfio whose every candidate fails; and another
    /// actor (an admin's `echo > bind`, a udev rule) binding the device to e1000e between the
    /// moment flavourd looks at the device and the moment its lock is taken. The failed
    /// request must put the device back on e1000e, where it was when flavourd started to
    /// change it, not unbind it to a stale "no driver".
    @Test func aBindByAnotherActorBeforeTheLockIsWhatARollbackRestores() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        let address = Fixture.e1000e
        try kernel.sysfs.write(address.description, to: "bus/pci/drivers/e1000e/unbind")
        #expect(kernel.driver(of: address) == nil)
        kernel.failProbe(driver: "vfio-pci", errno: EIO)
        let journal = InFlightJournal(directory: kernel.root + "/run/inflight")
        let steps = BindBeforeTheLock(journal: journal) { [kernel] in
            try? kernel.sysfs.write(address.description, to: "bus/pci/drivers/e1000e/bind")
        }
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        let binder = Binder(sysfs: kernel.sysfs, loader: kernel, logger: Logger(label: "test"), steps: steps)
        let executor = RequestExecutor(
            sysfs: kernel.sysfs, binder: binder, config: loaded.config, table: loaded.table, procRoot: kernel.procRoot, probe: kernel)

        let outcome = executor.handle(address: address, requested: try #require(executor.resolve("vfio")))

        #expect(outcome.previousDriver?.rawValue == "e1000e", "\(outcome)")
        #expect(outcome.result == .failedRestored(previous: DriverName("e1000e")), "\(outcome.attempts)")
        #expect(kernel.driver(of: address) == "e1000e")
        #expect(kernel.override(of: address) == nil)
        #expect(journal.records().isEmpty)
    }

    /// The lock `lock` takes holds until `unlock`: a second journal (flavourctl apply, another
    /// flavourd) is refused the device meanwhile, and gets it afterwards.
    @Test func theDeviceLockHoldsFromLockToUnlock() throws {
        let directory = try Fixture().kernel.root + "/run/inflight"
        let address = Fixture.virtioNet
        let ours = InFlightJournal(directory: directory)
        let theirs = InFlightJournal(directory: directory)
        try ours.lock(address)
        try ours.begin(InFlightRecord(address: address, operation: .bind, previousDriver: nil, previousOverride: nil))
        ours.end(address: address)  // the record goes, the lock `lock` took stays
        #expect(throws: InFlightRecord.Refusal.self) { try theirs.lock(address) }
        ours.unlock(address)
        try theirs.lock(address)
        theirs.unlock(address)
    }
}
