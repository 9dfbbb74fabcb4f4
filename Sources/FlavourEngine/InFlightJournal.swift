import FlavourCore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A record, under `/run`, of every change in progress: what the device had (driver and
/// driver_override), which operation, and which process makes it. Written before the
/// first write to the kernel, removed when the change ends. A process killed in the
/// middle (SIGKILL, OOM, a power cut of the terminal) leaves its records; the next
/// flavourd start, or the next `flavourctl apply`, settles each device before it changes
/// anything: a change that completed is kept, anything else goes back to the driver and
/// override the device had. No device stays driverless or keeps a stale override.
///
/// The record is also the device's lock between processes: it is created exclusively,
/// so flavourd and flavourctl never change one device at the same time. A record whose
/// process is gone is stale, and only recovery removes it.
public struct InFlightJournal: BindStepRecorder {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    func path(_ address: PCIAddress) -> String { directory + "/" + address.description }

    // MARK: - BindStepRecorder

    /// Creates the record exclusively (O_EXCL: the lock) and writes it in one write(2),
    /// before the change's first write to the kernel. A crash between the create and the
    /// write leaves an empty record, which recovery drops: nothing had reached the kernel.
    public func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal) {
        let path = path(record.address)
        func create() -> Int32 { Syscall.retrying { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) } }
        var fd = create()
        if fd < 0, errno == ENOENT {
            makeDirectory()
            fd = create()
        }
        guard fd >= 0 else {
            let openErrno = errno
            guard openErrno == EEXIST else { throw .unrecorded(directory: directory, errno: openErrno) }
            throw .busy(read(record.address))
        }
        var bytes = Array(record.text.utf8)
        let count = bytes.count
        let written = Syscall.retrying { bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, count) } }
        let writeErrno = written < 0 ? errno : ENOSPC
        close(fd)
        guard written == count else {
            unlink(path)
            throw .unrecorded(directory: directory, errno: writeErrno)
        }
    }

    public func end(address: PCIAddress) { unlink(path(address)) }

    /// `mkdir -p`: the run directory may not exist yet (a fresh /run, a new --run-dir).
    private func makeDirectory() {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            mkdir(prefix, 0o755)
        }
    }

    // MARK: - Reading

    /// Every well-formed record, by address.
    public func records() -> [InFlightRecord] {
        FileSystem.list(directory).compactMap { try? PCIAddress(parsing: $0) }.compactMap(read)
    }

    func read(_ address: PCIAddress) -> InFlightRecord? {
        guard let bytes = try? FileSystem.read(path(address)) else { return nil }
        return InFlightRecord(address: address, text: String(decoding: bytes, as: UTF8.self))
    }

    // MARK: - Recovery

    /// Settles every change whose process is gone: kept when it completed, rolled back
    /// with `binder` otherwise. Records of a live process (another flavourctl, or the
    /// daemon while this is flavourctl) are left to it; records that cannot be read are
    /// removed once old. Returns what it did, one line per device.
    public func recover(binder: Binder, logger: Logger) -> [String] {
        // Settling writes no records of its own: the record being settled stays until done.
        let binder = Binder(sysfs: binder.sysfs, loader: binder.loader, logger: binder.logger)
        var done: [String] = []
        for name in FileSystem.list(directory) {
            guard let address = try? PCIAddress(parsing: name) else { continue }
            guard let record = read(address) else {
                // Empty or cut short: its process died before the first kernel write, or is
                // writing it right now (a few microseconds): only an old one is removed.
                if age(of: path(address)) > Self.unreadableGrace {
                    logger.warning("Unreadable in-flight record removed", metadata: ["path": "\(path(address))"])
                    end(address: address)
                }
                continue
            }
            guard !record.ownerIsAlive else { continue }
            done.append(settle(record, binder: binder, logger: logger))
            end(address: address)
        }
        return done
    }

    /// How old an unreadable record must be to be a dead process's, in seconds.
    static let unreadableGrace = 10

    /// Seconds since a file was last written; 0 when it cannot be told.
    private func age(of path: String) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now.tv_sec - info.st_mtim.tv_sec
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

/// What a change in progress started from: written before its first write.
public struct InFlightRecord: Hashable, Sendable, CustomStringConvertible {
    public enum Operation: String, Hashable, Sendable { case bind, revert }

    public let address: PCIAddress
    public let operation: Operation
    public let previousDriver: DriverName?
    public let previousOverride: String?
    /// The process making the change, and its `comm`, so a reused pid is not mistaken for it.
    public let pid: Int32
    public let command: String

    public init(
        address: PCIAddress, operation: Operation, previousDriver: DriverName?, previousOverride: String?,
        pid: Int32 = getpid(), command: String = InFlightRecord.ownCommand
    ) {
        self.address = address
        self.operation = operation
        self.previousDriver = previousDriver
        self.previousOverride = previousOverride
        self.pid = pid
        self.command = command
    }

    /// `key=value` lines; unknown keys are ignored so a newer version's records still read.
    var text: String {
        var text = "operation=\(operation.rawValue)\npid=\(pid)\ncomm=\(command)\n"
        if let previousDriver { text += "previous_driver=\(previousDriver)\n" }
        if let previousOverride { text += "previous_override=\(previousOverride)\n" }
        return text
    }

    init?(address: PCIAddress, text: String) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { fields[pair[0]] = pair[1] }
        }
        guard let operation = fields["operation"].flatMap(Operation.init(rawValue:)),
              let pid = fields["pid"].flatMap(Int32.init)
        else { return nil }
        self.init(
            address: address, operation: operation, previousDriver: fields["previous_driver"].flatMap(DriverName.init),
            previousOverride: fields["previous_override"], pid: pid, command: fields["comm"] ?? "")
    }

    /// Whether the device reached the state the change was heading for: a bind is
    /// complete when the device is on a new driver that its override names; a revert,
    /// when the override is gone and the device is on another driver than before, or on
    /// none when it had none or none is the kernel's default for it.
    func completed(driver now: DriverName?, override: String?, noDriverIsDefault: Bool) -> Bool {
        switch operation {
        case .bind: now != nil && now != previousDriver && override == now?.rawValue
        case .revert:
            override == nil && (now.map { $0 != previousDriver } ?? (previousDriver == nil || noDriverIsDefault))
        }
    }

    var ownerIsAlive: Bool { pid != getpid() && Self.isAlive(pid: pid, command: command) }

    /// The process exists (signal 0 reaches it, or it exists but is not ours to signal)
    /// and, when known, still runs the same command.
    static func isAlive(pid: Int32, command: String?) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let command, !command.isEmpty,
              let bytes = try? FileSystem.read("/proc/\(pid)/comm")
        else { return true }
        var comm = String(decoding: bytes, as: UTF8.self)
        if comm.hasSuffix("\n") { comm.removeLast() }
        return comm == command
    }

    /// This process's `comm` (what /proc shows for it).
    public static let ownCommand: String = {
        guard let bytes = try? FileSystem.read("/proc/self/comm") else { return "" }
        var comm = String(decoding: bytes, as: UTF8.self)
        if comm.hasSuffix("\n") { comm.removeLast() }
        return comm
    }()

    public var description: String {
        "\(operation.rawValue) of \(address) by pid \(pid) (\(command.isEmpty ? "?" : command))"
    }

    /// Why a change could not start.
    public enum Refusal: Error, Hashable, Sendable, CustomStringConvertible {
        /// The record could not be written: the change would be unrecoverable after a crash.
        case unrecorded(directory: String, errno: Int32)
        /// Another process is changing the device (or crashed doing so and was not recovered
        /// yet); nil when its record is still being written.
        case busy(InFlightRecord?)

        public var description: String {
            switch self {
            case let .unrecorded(directory, errno):
                "could not record the change in \(directory) (\(Errno.name(errno)): \(Errno.message(errno))), so a crash "
                    + "could not be undone; nothing was written. Make \(directory) writable (or pass --run-dir) and try again"
            case .busy(nil):
                "the device is being changed by another process; nothing was written. Wait for it to finish and try again"
            case let .busy(record?):
                record.ownerIsAlive
                    ? "the device is being changed by pid \(record.pid) (\(record.command)); nothing was written. "
                        + "Wait for it to finish and try again"
                    : "an interrupted \(record.operation.rawValue) (pid \(record.pid), no longer running) is still recorded; "
                        + "nothing was written. Start flavourd or run flavourctl apply again: either settles it first"
            }
        }
    }
}
