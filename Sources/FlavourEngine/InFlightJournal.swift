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

    public func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal) {
        let text = record.text
        let temporary = path(record.address) + ".\(record.pid).tmp"
        var fd = Syscall.retrying { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        if fd < 0, errno == ENOENT {
            makeDirectory()
            fd = Syscall.retrying { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        }
        guard fd >= 0 else { throw .unrecorded(directory: directory, errno: errno) }
        var bytes = Array(text.utf8)
        let count = bytes.count
        let written = Syscall.retrying { bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, count) } }
        let writeErrno = written < 0 ? errno : EIO
        close(fd)
        defer { unlink(temporary) }
        guard written == count else { throw .unrecorded(directory: directory, errno: writeErrno) }
        // link(2) fails with EEXIST when a record is there: the exclusive part.
        guard link(temporary, path(record.address)) == 0 else {
            let linkErrno = errno
            guard linkErrno == EEXIST else { throw .unrecorded(directory: directory, errno: linkErrno) }
            throw .busy(read(record.address) ?? InFlightRecord(
                address: record.address, operation: .bind, previousDriver: nil, previousOverride: nil, pid: 0, command: "?"))
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
    /// daemon while this is flavourctl) are left to it. Also removes leftovers: partial
    /// `.tmp` files of dead processes and records that cannot be read. Returns what it
    /// did, one line per device.
    public func recover(binder: Binder, logger: Logger) -> [String] {
        // Settling writes no records of its own: the record being settled stays until done.
        let binder = Binder(sysfs: binder.sysfs, loader: binder.loader, logger: binder.logger)
        var done: [String] = []
        for name in FileSystem.list(directory) {
            if let address = try? PCIAddress(parsing: name) {
                guard let record = read(address) else {
                    logger.warning("Unreadable in-flight record removed", metadata: ["path": "\(path(address))"])
                    end(address: address)
                    continue
                }
                guard !record.ownerIsAlive else { continue }
                done.append(settle(record, binder: binder, logger: logger))
                end(address: address)
            } else if name.hasSuffix(".tmp"), let pid = Int32(name.split(separator: ".").dropLast().last ?? ""),
                      !InFlightRecord.isAlive(pid: pid, command: nil) {
                unlink(directory + "/" + name)
            }
        }
        return done
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
        /// Another process is changing the device (or crashed doing so and was not recovered yet).
        case busy(InFlightRecord)

        public var description: String {
            switch self {
            case let .unrecorded(directory, errno):
                "could not record the change in \(directory) (\(Errno.name(errno)): \(Errno.message(errno))), so a crash "
                    + "could not be undone; nothing was written. Make \(directory) writable (or pass --run-dir) and try again"
            case let .busy(record):
                record.ownerIsAlive
                    ? "the device is being changed by pid \(record.pid) (\(record.command)); nothing was written. "
                        + "Wait for it to finish and try again"
                    : "an interrupted \(record.operation.rawValue) (pid \(record.pid), no longer running) is still recorded; "
                        + "nothing was written. Start flavourd or run flavourctl apply again: either settles it first"
            }
        }
    }
}
