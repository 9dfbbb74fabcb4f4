import FlavourCore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A record, under `/run`, of every bind in progress: what the device had (driver and
/// driver_override), written before the first write to the kernel and removed when the
/// bind ends. A daemon killed in the middle (SIGKILL, OOM) finds the records at its next
/// start, before it takes new requests, and settles each device: a bind that completed
/// (the device is on the driver its override names) is kept; anything else goes back to
/// the driver and override it had. No device stays driverless or keeps a stale override.
/// One write and one unlink a bind: the previous state is all recovery needs.
public struct InFlightJournal: BindStepRecorder {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public struct Record: Hashable, Sendable {
        public let address: PCIAddress
        public let previousDriver: DriverName?
        public let previousOverride: String?
    }

    func path(_ address: PCIAddress) -> String { directory + "/" + address.description }

    public func begin(address: PCIAddress, previousDriver: DriverName?, previousOverride: String?) {
        write(Record(address: address, previousDriver: previousDriver, previousOverride: previousOverride))
    }

    public func end(address: PCIAddress) { unlink(path(address)) }

    public func records() -> [Record] {
        FileSystem.list(directory).compactMap { try? PCIAddress(parsing: $0) }.compactMap(read)
    }

    func read(_ address: PCIAddress) -> Record? {
        guard let bytes = try? FileSystem.read(path(address)) else { return nil }
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { fields[pair[0]] = pair[1] }
        }
        guard fields["bind"] == "started" else { return nil }
        return Record(
            address: address, previousDriver: fields["previous_driver"].flatMap(DriverName.init),
            previousOverride: fields["previous_override"])
    }

    func write(_ record: Record) {
        var text = "bind=started\n"
        if let driver = record.previousDriver { text += "previous_driver=\(driver)\n" }
        if let override = record.previousOverride { text += "previous_override=\(override)\n" }
        let temporary = path(record.address) + ".tmp"
        var fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0, errno == ENOENT {
            mkdir(String(directory[..<(directory.lastIndex(of: "/") ?? directory.endIndex)]), 0o755)
            mkdir(directory, 0o755)
            fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        }
        guard fd >= 0 else { return }
        var bytes = Array(text.utf8)
        let count = bytes.count
        let written = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, count) }
        close(fd)
        if written == count { rename(temporary, path(record.address)) } else { unlink(temporary) }
    }

    /// Settles every interrupted bind: kept when it completed, rolled back otherwise.
    /// Returns what it did, one line per device.
    public func recover(sysfs: Sysfs, logger: Logger) -> [String] {
        var done: [String] = []
        for record in records() {
            let address = record.address
            defer { end(address: address) }
            guard sysfs.exists(PCIPaths.device(address)) else {
                done.append("\(address): gone")
                continue
            }
            let now = sysfs.boundDriver(address)
            let override = try? sysfs.read(PCIPaths.attribute("driver_override", of: address))
            if let now, now != record.previousDriver, override == now.rawValue {
                done.append("\(address): interrupted after binding \(now), kept")
                logger.notice("Interrupted bind found complete", metadata: [
                    "pci.slot_name": "\(address)", "driver": "\(now)",
                    "driver.previous": "\(record.previousDriver?.rawValue ?? "")",
                ])
                continue
            }
            try? sysfs.write((record.previousOverride ?? "") + "\n", to: PCIPaths.attribute("driver_override", of: address))
            if now != record.previousDriver {
                if let now { try? sysfs.write(address.description, to: "\(PCIPaths.driver(now))/unbind") }
                if let previous = record.previousDriver,
                   (try? sysfs.write(address.description, to: "\(PCIPaths.driver(previous))/bind")) == nil {
                    try? sysfs.write(address.description, to: PCIPaths.driversProbe)
                }
            }
            let after = sysfs.boundDriver(address)
            done.append("\(address): interrupted, restored to \(after?.rawValue ?? "no driver")")
            logger.warning("Interrupted bind rolled back", metadata: [
                "pci.slot_name": "\(address)", "driver": "\(after?.rawValue ?? "")",
                "driver.previous": "\(record.previousDriver?.rawValue ?? "")",
            ])
        }
        return done
    }
}
