import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The process making a change, killed after a chosen write: from then on no write of it
/// reaches the kernel and its journal record stays, as after SIGKILL. The real binder
/// runs up to that point, so the kernel is left exactly as a crash there would leave it.
final class DyingProcess: SysfsWriter, BindStepRecorder, Sendable {
    let kernel: TestKernel
    let journal: InFlightJournal
    let diesAfter: @Sendable (String) -> Bool
    let dead = Atomic<Bool>(false)
    var isDead: Bool { dead.load(ordering: .relaxed) }

    init(kernel: TestKernel, journal: InFlightJournal, diesAfter: @escaping @Sendable (String) -> Bool) {
        self.kernel = kernel
        self.journal = journal
        self.diesAfter = diesAfter
    }

    func write(_ value: String, to path: String) throws(SysfsError) {
        guard !dead.load(ordering: .relaxed) else { throw SysfsError(.write, path: path, value: value, errno: EINTR) }
        try kernel.write(value, to: path)
        if diesAfter(path) {
            dead.store(true, ordering: .relaxed)
            journal.close()  // its locks go with it, the record of its change in flight stays
        }
    }

    func lock(_ address: PCIAddress) throws(InFlightRecord.Refusal) { try journal.lock(address) }
    func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal) { try journal.begin(record) }
    func end(address: PCIAddress) { if !dead.load(ordering: .relaxed) { journal.end(address: address) } }
    func unlock(_ address: PCIAddress) { if !dead.load(ordering: .relaxed) { journal.unlock(address) } }
}

/// A process killed in the middle of a change leaves the kernel as it was at that moment
/// and its journal record; the next start settles the device: what did not complete goes
/// back, what completed is kept.
@Suite struct InFlightJournalTests {
    enum CrashPoint: String, CaseIterable { case afterOverride = "driver_override", afterUnbind = "unbind", afterBind = "bind" }

    static func binder(_ kernel: TestKernel, writer: any SysfsWriter, steps: any BindStepRecorder) -> Binder {
        Binder(sysfs: Sysfs(root: kernel.sysfsRoot, writer: writer), loader: kernel, logger: Logger(label: "t"), steps: steps)
    }

    static func executor(_ kernel: TestKernel, _ binder: Binder) throws -> RequestExecutor {
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        return RequestExecutor(
            sysfs: binder.sysfs, binder: binder, config: loaded.config, table: loaded.table, procRoot: kernel.procRoot,
            probe: kernel)
    }

    @Test(arguments: CrashPoint.allCases)
    func restartAfterACrashInABindSettlesTheDevice(at point: CrashPoint) throws {
        let kernel = try Fixture().kernel
        let journal = InFlightJournal(directory: kernel.root + "/run/inflight")
        let address = Fixture.e1000e
        let process = DyingProcess(kernel: kernel, journal: journal) { $0.hasSuffix("/" + point.rawValue) }
        _ = try Self.executor(kernel, Self.binder(kernel, writer: process, steps: process))
            .handle(address: address, requested: .flavour(.vfio))
        #expect(process.isDead)
        switch point {
        case .afterOverride: #expect(kernel.driver(of: address) == "e1000e")
        case .afterUnbind: #expect(kernel.driver(of: address) == nil)
        case .afterBind: #expect(kernel.driver(of: address) == "vfio-pci")
        }
        #expect(kernel.override(of: address) == "vfio-pci")

        // A new process starts.
        let restarted = InFlightJournal(directory: kernel.root + "/run/inflight")
        #expect(restarted.records().map(\.operation) == [.bind])
        let report = restarted.recover(binder: Fixture.binder(kernel), logger: Logger(label: "t"))
        if point == .afterBind {
            #expect(report == ["\(address): interrupted bind had completed (vfio-pci), kept"])
            #expect(kernel.driver(of: address) == "vfio-pci")
            #expect(kernel.override(of: address) == "vfio-pci")
        } else {
            #expect(report == ["\(address): interrupted bind, restored to e1000e"])
            #expect(kernel.driver(of: address) == "e1000e")
            #expect(kernel.override(of: address) == nil)
        }
        #expect(restarted.records().isEmpty)
    }

    enum RevertCrashPoint: String, CaseIterable { case afterOverride = "driver_override", afterUnbind = "unbind", afterProbe = "drivers_probe" }

    @Test(arguments: RevertCrashPoint.allCases)
    func restartAfterACrashInARevertSettlesTheDevice(at point: RevertCrashPoint) throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        let address = Fixture.e1000e
        #expect(try fixture.apply(address).succeeded)
        let journal = InFlightJournal(directory: kernel.root + "/run/inflight")
        let process = DyingProcess(kernel: kernel, journal: journal) { $0.hasSuffix("/" + point.rawValue) }
        _ = try Self.executor(kernel, Self.binder(kernel, writer: process, steps: process)).handle(address: address, requested: .revert)
        #expect(process.isDead)

        let report = InFlightJournal(directory: journal.directory).recover(binder: Fixture.binder(kernel), logger: Logger(label: "t"))
        switch point {
        case .afterOverride:
            // Still on vfio-pci, its override gone: back as it was.
            #expect(report == ["\(address): interrupted revert, restored to vfio-pci"])
            #expect(kernel.driver(of: address) == "vfio-pci")
            #expect(kernel.override(of: address) == "vfio-pci")
        case .afterUnbind:
            // Driverless between unbind and reprobe: the revert is finished for it.
            #expect(report == ["\(address): interrupted revert finished (e1000e)"])
            #expect(kernel.driver(of: address) == "e1000e")
            #expect(kernel.override(of: address) == nil)
        case .afterProbe:
            #expect(report == ["\(address): interrupted revert had completed (e1000e), kept"])
            #expect(kernel.driver(of: address) == "e1000e")
            #expect(kernel.override(of: address) == nil)
        }
    }

    /// A revert cut off before its reprobe whose default driver then fails too goes back.
    @Test func anUnfinishableRevertIsRolledBack() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        let address = Fixture.e1000e
        #expect(try fixture.apply(address).succeeded)
        let journal = InFlightJournal(directory: kernel.root + "/run/inflight")
        let process = DyingProcess(kernel: kernel, journal: journal) { $0.hasSuffix("/unbind") }
        _ = try Self.executor(kernel, Self.binder(kernel, writer: process, steps: process)).handle(address: address, requested: .revert)
        kernel.failProbe(driver: "e1000e", errno: EIO)
        let report = journal.recover(binder: Fixture.binder(kernel), logger: Logger(label: "t"))
        #expect(report == ["\(address): interrupted revert, restored to vfio-pci"])
        #expect(kernel.driver(of: address) == "vfio-pci")
        #expect(kernel.override(of: address) == "vfio-pci")
    }

    @Test func aCompletedBindLeavesNoRecord() throws {
        let fixture = try Fixture()
        let journal = InFlightJournal(directory: fixture.kernel.root + "/run/inflight")
        let binder = Binder(sysfs: fixture.kernel.sysfs, loader: fixture.kernel, logger: Logger(label: "t"), steps: journal)
        let outcome = try Self.executor(fixture.kernel, binder).handle(address: Fixture.virtioNet, requested: .flavour(.vfio))
        #expect(outcome.succeeded)
        #expect(journal.records().isEmpty)
        // And the device is free again: another journal can take it.
        let other = InFlightJournal(directory: journal.directory)
        #expect(throws: Never.self) {
            try other.begin(InFlightRecord(address: Fixture.virtioNet, operation: .revert, previousDriver: nil, previousOverride: nil))
        }
    }

    @Test func aVFThatHadNoDriverIsLeftWithoutOneAndWithoutAnOverride() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("1", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let vf = try PCIAddress(parsing: "0000:02:00.0")
        let journal = InFlightJournal(directory: kernel.root + "/run/inflight")
        let process = DyingProcess(kernel: kernel, journal: journal) { $0.hasSuffix("/driver_override") }
        _ = try Self.executor(kernel, Self.binder(kernel, writer: process, steps: process)).handle(address: vf, requested: .flavour(.vfio))
        #expect(kernel.override(of: vf) == "vfio-pci")
        _ = journal.recover(binder: Fixture.binder(kernel), logger: Logger(label: "t"))
        #expect(kernel.override(of: vf) == nil)
        #expect(kernel.driver(of: vf) == nil)
    }

    /// A VF on nvme under a PF with autoprobe off probes again only through an override:
    /// restoring must bind through one, then clear it.
    @Test func aVFIsPutBackOnItsDriverEvenWithAutoprobeOff() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        try kernel.sysfs.write("1", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let vf = try PCIAddress(parsing: "0000:02:00.0")
        #expect(kernel.driver(of: vf) == "nvme")
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        let journal = InFlightJournal(directory: kernel.root + "/run/inflight")
        let process = DyingProcess(kernel: kernel, journal: journal) { $0.hasSuffix("/unbind") }
        _ = try Self.executor(kernel, Self.binder(kernel, writer: process, steps: process)).handle(address: vf, requested: .flavour(.vfio))
        #expect(kernel.driver(of: vf) == nil)
        let report = journal.recover(binder: Fixture.binder(kernel), logger: Logger(label: "t"))
        #expect(report == ["\(vf): interrupted bind, restored to nvme"])
        #expect(kernel.driver(of: vf) == "nvme")
        #expect(kernel.override(of: vf) == nil)
    }

    @Test func aRecordThatCannotBeWrittenRefusesTheChangeBeforeAnyWrite() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        // The run directory's place is taken by a file: no record can be made.
        let blocked = kernel.root + "/run-is-a-file"
        #expect(creat(blocked, 0o600) >= 0)
        let binder = Binder(sysfs: kernel.sysfs, loader: kernel, logger: Logger(label: "t"),
                            steps: InFlightJournal(directory: blocked + "/inflight"))
        kernel.clearEvents()
        let outcome = try Self.executor(kernel, binder).handle(address: Fixture.e1000e, requested: .flavour(.vfio))
        guard case .refused(let why) = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(why.contains("could not record the change in \(blocked)/inflight (ENOTDIR"))
        #expect(why.contains("nothing was written"))
        #expect(kernel.events.isEmpty)
        #expect(kernel.driver(of: Fixture.e1000e) == "e1000e")
    }

    /// The device's lock is held by a live journal (flavourd, another flavourctl): a second
    /// change is refused, naming who holds it, and recovery leaves that journal's file alone.
    @Test func aLiveJournalsDeviceRefusesAnotherChangeAndIsNotRecovered() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        let holder = InFlightJournal(directory: kernel.root + "/run/inflight")
        try holder.begin(InFlightRecord(
            address: Fixture.e1000e, operation: .bind, previousDriver: DriverName("e1000e"), previousOverride: nil))
        let journal = InFlightJournal(directory: holder.directory)
        kernel.clearEvents()
        let binder = Binder(sysfs: kernel.sysfs, loader: kernel, logger: Logger(label: "t"), steps: journal)
        let outcome = try Self.executor(kernel, binder).handle(address: Fixture.e1000e, requested: .flavour(.vfio))
        guard case .refused(let why) = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(why.hasPrefix("the device is being changed by pid \(getpid()) (\(InFlightRecord.ownCommand)); nothing was written"))
        #expect(kernel.events.isEmpty)
        #expect(journal.recover(binder: binder, logger: Logger(label: "t")).isEmpty)
        #expect(journal.records().count == 1)
        // Another device is not held.
        let other = try Self.executor(kernel, binder).handle(address: Fixture.virtioNet, requested: .flavour(.vfio))
        #expect(other.succeeded)
    }

    /// Files of dead processes are settled and removed, whatever they hold: a record, an
    /// empty table, a write cut short (no "." line: only whole records count).
    @Test func recoveryRemovesTheFilesOfDeadProcesses() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        let directory = kernel.root + "/run/inflight"
        try Self.make(directory)
        try Self.write(directory + "/4242-1", "record\naddress=0000:00:05.0\noperation=bind\npid=4242\ncomm=flavourd\nprevious_driver=mlx5_core\nend\n.\n")
        try Self.write(directory + "/4243-7", ".\n")
        try Self.write(directory + "/4244-9", "record\naddress=0000:00:03.0\noperation=bi")
        let live = InFlightJournal(directory: directory)
        try live.begin(InFlightRecord(address: Fixture.e1000e, operation: .bind, previousDriver: nil, previousOverride: nil))
        let report = InFlightJournal(directory: directory).recover(binder: Fixture.binder(kernel), logger: Logger(label: "t"))
        #expect(report == ["0000:00:05.0: interrupted bind, restored to mlx5_core"])
        #expect(FileSystem.list(directory).filter { !$0.hasPrefix(".") }.count == 1)  // the live journal's
        #expect(live.records().map(\.address) == [Fixture.e1000e])
    }

    /// The table is rewritten in place and cut to length: the file holds exactly the changes
    /// in flight for anyone who reads it (the guest suite's daemon-sigkill reads it as an admin
    /// would); and a tail after the "." line (a crash between the write and the cut) never
    /// counts, in this process or in recovery.
    @Test func theFileHoldsOnlyTheChangesInFlight() throws {
        let fixture = try Fixture()
        let kernel = fixture.kernel
        let directory = kernel.root + "/run/inflight"
        let journal = InFlightJournal(directory: directory)
        try journal.begin(InFlightRecord(address: Fixture.virtioNet, operation: .bind, previousDriver: nil, previousOverride: nil))
        try journal.begin(InFlightRecord(address: Fixture.e1000e, operation: .bind, previousDriver: nil, previousOverride: nil))
        journal.end(address: Fixture.e1000e)
        let name = try #require(FileSystem.list(directory).first { !$0.hasPrefix(".") })
        let text = String(decoding: try FileSystem.read(directory + "/" + name), as: UTF8.self)
        #expect(!text.contains("address=\(Fixture.e1000e)"))
        #expect(text.hasSuffix("end\n.\n"))
        #expect(journal.records().map(\.address) == [Fixture.virtioNet])
        // A dead process's file with such a tail: only the record before the "." is settled.
        try Self.write(directory + "/4242-1", "record\naddress=0000:00:05.0\noperation=bind\npid=4242\ncomm=flavourd\nprevious_driver=mlx5_core\nend\n.\n"
            + "record\naddress=\(Fixture.virtioNet)\noperation=bind\npid=4242\ncomm=flavourd\nend\n.\n")
        let report = InFlightJournal(directory: directory).recover(binder: Fixture.binder(kernel), logger: Logger(label: "t"))
        #expect(report == ["0000:00:05.0: interrupted bind, restored to mlx5_core"])
        journal.end(address: Fixture.virtioNet)
        let emptied = String(decoding: try FileSystem.read(directory + "/" + name), as: UTF8.self)
        #expect(emptied == ".\n")
        journal.close()
    }

    static func make(_ directory: String) throws {
        var prefix = ""
        for part in directory.split(separator: "/") {
            prefix += "/" + part
            mkdir(prefix, 0o755)
        }
    }

    static func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
    }
}

extension Fixture {
    static func binder(_ kernel: TestKernel) -> Binder {
        Binder(sysfs: kernel.sysfs, loader: kernel, logger: Logger(label: "t"))
    }
}

extension String {
    var trimmingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
