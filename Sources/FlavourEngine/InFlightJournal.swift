import FlavourCore
import FlavourPOSIX
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A record, under `/run`, of every change in progress: what the device had (driver and
/// driver_override) and which operation, written before the change's first write to the
/// kernel and cleared when it ends. A process killed in the middle (SIGKILL, OOM, a closed
/// terminal) leaves its records; the next flavourd start, or the next `flavourctl apply`,
/// settles each device before it changes anything: a change that completed is kept,
/// anything else goes back to the driver and override the device had. No device stays
/// driverless or keeps a stale override.
///
/// Locks, not files, say who is alive. Each process keeps its records in a file of its own,
/// `<pid>-<id>`, rewritten in place (one pwrite, no file created per bind), and holds an
/// open-file-description lock (F_OFD_SETLK) on it; each device in flight is a locked byte
/// of `.lock`, at an offset made from its address. The kernel drops a process's locks when
/// it dies, so a record file whose lock can be taken belongs to a dead process, and a device
/// whose byte is locked is being changed by someone alive: flavourd and flavourctl never
/// change one device at once, and a reused pid is never mistaken for a live owner.
///
/// A bind costs the journal six syscalls: at `begin`, the device's lock (fcntl), the table
/// (pwrite) and its cut to length (ftruncate); at `end`, the table, its cut and the unlock. No fsync: `/run` is memory, and the
/// records must outlive the process, not the machine (a reboot ends every bind anyway); the
/// pwrite is in the kernel's page cache before the bind's first write, which is what
/// recovery needs.
public final class InFlightJournal: BindStepRecorder, Sendable {
    public let directory: String

    /// The journal's open files and its records, guarded by `state`.
    private struct State {
        /// This process's record file (created and locked) and `.lock`: opened on the first `begin`.
        var files: (records: Int32, devices: Int32)?
        var recordsName: String?
        var current: [PCIAddress: InFlightRecord] = [:]
        /// Devices whose byte of `.lock` this journal holds, and whether `lock` took it (held
        /// until `unlock`) rather than `begin` (dropped at `end`).
        var held: [PCIAddress: Bool] = [:]
        /// `.lock`, when recovery opened it before the first `begin`.
        var recoveryDevices: Int32?
    }

    private let state = Mutex(State())

    public init(directory: String) {
        self.directory = directory
    }

    deinit { close() }

    /// Ends the journal: with nothing in flight its record file goes. Records of changes
    /// still in flight stay, with their locks gone, as a process that dies leaves them: the
    /// next recovery settles them. flavourd calls it when it stops.
    public func close() {
        state.withLock { state in
            if let files = state.files {
                if state.current.isEmpty, let recordsName = state.recordsName { unlink(directory + "/" + recordsName) }
                Glibc.close(files.records)
                Glibc.close(files.devices)
                state.files = nil
                state.recordsName = nil
            }
            if let recoveryDevices = state.recoveryDevices {
                Glibc.close(recoveryDevices)
                state.recoveryDevices = nil
            }
        }
    }

    static let devicesFile = ".lock"

    // MARK: - BindStepRecorder

    public func lock(_ address: PCIAddress) throws(InFlightRecord.Refusal) {
        let refusal: InFlightRecord.Refusal? = state.withLock { state in
            if state.held[address] != nil { return nil }
            do throws(InFlightRecord.Refusal) { try take(address, &state) } catch { return error }
            state.held[address] = true
            return nil
        }
        if let refusal { throw refusal }
    }

    public func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal) {
        let refusal: InFlightRecord.Refusal? = state.withLock { state in
            let tookLock = state.held[record.address] == nil
            if tookLock {
                do throws(InFlightRecord.Refusal) { try take(record.address, &state) } catch { return error }
                state.held[record.address] = false
            }
            let files = state.files!
            state.current[record.address] = record
            let errno = Self.writeRecords(state.current, to: files.records)
            guard errno == 0 else {
                state.current[record.address] = nil
                if tookLock { release(record.address, &state) }
                return .unrecorded(directory: directory, errno: errno)
            }
            return nil
        }
        if let refusal { throw refusal }
    }

    public func end(address: PCIAddress) {
        state.withLock { state in
            if let files = state.files, state.current.removeValue(forKey: address) != nil {
                _ = Self.writeRecords(state.current, to: files.records)
            }
            if state.held[address] == false { release(address, &state) }
        }
    }

    public func unlock(_ address: PCIAddress) {
        state.withLock { state in
            if let files = state.files, state.current.removeValue(forKey: address) != nil {
                _ = Self.writeRecords(state.current, to: files.records)
            }
            if state.held[address] != nil { release(address, &state) }
        }
    }

    /// With the lock held: the device's byte of `.lock`, or why not.
    private func take(_ address: PCIAddress, _ state: inout State) throws(InFlightRecord.Refusal) {
        let files = try openFiles(&state)
        guard Self.setLock(files.devices, at: address.lockOffset, F_WRLCK) else { throw .busy(owner(of: address)) }
    }

    /// With the lock held: lets the device's byte of `.lock` go.
    private func release(_ address: PCIAddress, _ state: inout State) {
        state.held[address] = nil
        if let files = state.files { _ = Self.setLock(files.devices, at: address.lockOffset, F_UNLCK) }
    }

    /// With the lock held: this process's record file (created and locked) and `.lock`.
    private func openFiles(_ state: inout State) throws(InFlightRecord.Refusal) -> (records: Int32, devices: Int32) {
        if let files = state.files { return files }
        var devices = state.recoveryDevices ?? openDeviceLocks()
        if devices < 0, errno == ENOENT {
            FileSystem.makeDirectories(directory)
            devices = openDeviceLocks()
        }
        guard devices >= 0 else { throw .unrecorded(directory: directory, errno: errno) }
        let name = "\(getpid())-\(Self.monotonicNanoseconds())"
        let records = Syscall.retrying { open(directory + "/" + name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        guard records >= 0 else {
            let openErrno = errno
            if state.recoveryDevices == nil { Glibc.close(devices) }
            throw .unrecorded(directory: directory, errno: openErrno)
        }
        // Held for the life of the process: a record file whose lock is free is a dead one's.
        _ = Self.setLock(records, at: 0, F_WRLCK)
        state.files = (records, devices)
        state.recordsName = name
        state.recoveryDevices = nil
        return (records, devices)
    }

    /// With the lock held: the whole table, written over the file from offset 0, then cut to
    /// length. A "." line ends it and reading stops there (`InFlightRecord.parse`), so a crash
    /// between the two leaves no stale tail that counts; the cut keeps the file exactly the
    /// records in flight for anyone who reads it (an admin's `cat`, the guest suite). In
    /// place, not replaced by a rename: the file is the one this process holds its lock on,
    /// and the lock is what tells a live owner from a dead one.
    private static func writeRecords(_ current: [PCIAddress: InFlightRecord], to fd: Int32) -> Int32 {
        let bytes = Array((current.keys.sorted().map { current[$0]!.text }.joined() + ".\n").utf8)
        let failure = FileSystem.write(bytes, to: fd, at: 0)
        guard failure == 0 else { return failure }
        guard ftruncate(fd, off_t(bytes.count)) == 0 else { return errno }
        return 0
    }

    /// `.lock`, the file whose bytes are the devices' locks.
    private func openDeviceLocks() -> Int32 {
        Syscall.retrying { open(directory + "/" + Self.devicesFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
    }

    static func setLock(_ fd: Int32, at offset: Int64, _ type: Int32) -> Bool { FileLock.set(fd, at: offset, type) }

    static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    // MARK: - Reading

    /// The record files of other journals (other processes, or other instances), by name.
    private func foreignFiles() -> [String] {
        let own = state.withLock { $0.recordsName }
        return FileSystem.list(directory).filter { $0 != Self.devicesFile && $0 != own && !$0.hasPrefix(".") }
    }

    /// Every record in the directory's record files, this journal's own included.
    public func records() -> [InFlightRecord] {
        FileSystem.list(directory).filter { !$0.hasPrefix(".") }.flatMap { name in
            (try? FileSystem.read(directory + "/" + name)).map { InFlightRecord.parse(String(decoding: $0, as: UTF8.self)) } ?? []
        }
    }

    /// Who holds a device, from the other record files (nil when its record is not written yet).
    private func owner(of address: PCIAddress) -> InFlightRecord? {
        records().first { $0.address == address }
    }

    // MARK: - Recovery

    /// Settles every change of a process that is gone (its record file's lock is free):
    /// kept when it completed, rolled back with `binder` otherwise; then removes its file.
    /// Files of live processes are left to them. Returns what it did, one line per device.
    public func recover(binder: Binder, logger: Logger) -> [String] {
        // Settling writes no records of its own: the record being settled stays until done.
        let binder = Binder(
            sysfs: binder.sysfs, loader: binder.loader, logger: binder.logger, procRoot: binder.procRoot,
            notYetAddedLimit: binder.notYetAddedLimit)
        var done: [String] = []
        for name in foreignFiles() {
            let path = directory + "/" + name
            let fd = Syscall.retrying { open(path, O_RDWR | O_CLOEXEC) }
            guard fd >= 0 else { continue }
            defer { Glibc.close(fd) }
            guard Self.setLock(fd, at: 0, F_WRLCK) else { continue }  // its process is alive
            let records = (try? FileSystem.read(path)).map { InFlightRecord.parse(String(decoding: $0, as: UTF8.self)) } ?? []
            var settledAll = true
            for record in records {
                // Another recovering process may be on it: only one settles a device.
                guard let devices = deviceLockFile(), Self.setLock(devices, at: record.address.lockOffset, F_WRLCK) else {
                    settledAll = false
                    continue
                }
                done.append(settle(record, binder: binder, logger: logger))
                _ = Self.setLock(devices, at: record.address.lockOffset, F_UNLCK)
            }
            if settledAll { unlink(path) }
        }
        return done
    }

    /// `.lock`, for recovery's device locks; the same descriptor `begin` uses later.
    private func deviceLockFile() -> Int32? {
        state.withLock { state in
            if let files = state.files { return files.devices }
            if let recoveryDevices = state.recoveryDevices { return recoveryDevices }
            let fd = openDeviceLocks()
            guard fd >= 0 else { return nil }
            state.recoveryDevices = fd
            return fd
        }
    }

    private func settle(_ record: InFlightRecord, binder: Binder, logger: Logger) -> String {
        let address = record.address
        let sysfs = binder.sysfs
        guard let device = try? sysfs.pciDevice(address) else { return "\(address): gone" }
        var now = device.driver.flatMap(DriverName.init)
        var noDriverIsDefault = false
        var finished = false
        // A revert cut off between its unbind and its reprobe: finish it, as it would have
        // (`Binder.revert`: no driver is the kernel's answer without a default driver, or
        // for a VF whose PF has autoprobe off).
        if record.operation == .revert, device.driverOverride == nil, now == nil, record.previousDriver != nil {
            if binder.autoprobeOffPF(of: device) != nil {
                noDriverIsDefault = true
            } else {
                let defaults = try? binder.loader.load(alias: device.modalias.description)
                try? sysfs.write(address.description, to: PCIPaths.driversProbe)
                now = sysfs.boundDriver(address)
                noDriverIsDefault = defaults?.isEmpty ?? false
                finished = true
            }
        }
        if record.completed(driver: now, override: device.driverOverride, noDriverIsDefault: noDriverIsDefault) {
            logger.notice("Interrupted change found complete", metadata: [
                "pci.slot_name": "\(address)", "driver": "\(now?.rawValue ?? "")", "operation": "\(record.operation.rawValue)",
                "driver.previous": "\(record.previousDriver?.rawValue ?? "")",
            ])
            return finished
                ? "\(address): interrupted \(record.operation.rawValue) finished (\(now?.rawValue ?? "no driver"))"
                : "\(address): interrupted \(record.operation.rawValue) had completed (\(now?.rawValue ?? "no driver")), kept"
        }
        let restored = binder.restore(address, driver: record.previousDriver, override: record.previousOverride)
        let after = restored.now?.rawValue ?? "no driver"
        logger.log(level: restored.succeeded ? .warning : .error, "Interrupted change rolled back", metadata: [
            "pci.slot_name": "\(address)", "driver": "\(restored.now?.rawValue ?? "")", "operation": "\(record.operation.rawValue)",
            "driver.previous": "\(record.previousDriver?.rawValue ?? "")", "restored": "\(restored.succeeded)",
            "attempts": "\(restored.attempts.map(\.description).joined(separator: "; "))",
        ])
        return restored.succeeded
            ? "\(address): interrupted \(record.operation.rawValue), restored to \(after)"
            : "\(address): interrupted \(record.operation.rawValue), could not restore \(record.previousDriver?.rawValue ?? "no driver"): on \(after)"
    }
}

extension PCIAddress {
    /// A byte of `.lock` per device: domain, bus, device and function side by side.
    fileprivate var lockOffset: Int64 { Int64(domain) << 16 | Int64(bus) << 8 | Int64(device) << 3 | Int64(function) }
}
