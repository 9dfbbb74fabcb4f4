import FlavourCore
import FlavourPOSIX

#if canImport(Glibc)
import Glibc
#endif

/// What a change in progress started from: written before its first write.
public struct InFlightRecord: Hashable, Sendable, CustomStringConvertible {
    public enum Operation: String, Hashable, Sendable { case bind, revert }

    public let address: PCIAddress
    public let operation: Operation
    public let previousDriver: DriverName?
    public let previousOverride: String?
    /// The process making the change and its `comm`, for the messages that name it.
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

    /// One block of `key=value` lines between `record` and `end`; unknown keys are ignored,
    /// so a newer version's records still read.
    var text: String {
        var text = "record\naddress=\(address)\noperation=\(operation.rawValue)\npid=\(pid)\ncomm=\(command)\n"
        if let previousDriver { text += "previous_driver=\(previousDriver)\n" }
        if let previousOverride { text += "previous_override=\(previousOverride)\n" }
        return text + "end\n"
    }

    /// The records of a record file, up to its "." line; blocks cut short are skipped.
    static func parse(_ text: String) -> [InFlightRecord] {
        var records: [InFlightRecord] = []
        var fields: [String: String]? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            switch line {
            case ".": return records
            case "record": fields = [:]
            case "end":
                if let fields, let record = InFlightRecord(fields) { records.append(record) }
                fields = nil
            default:
                let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
                if pair.count == 2 { fields?[pair[0]] = pair[1] }
            }
        }
        return records  // no "." line: the write was cut short, and only whole blocks count
    }

    private init?(_ fields: [String: String]) {
        guard let address = fields["address"].flatMap({ try? PCIAddress(parsing: $0) }),
              let operation = fields["operation"].flatMap(Operation.init(rawValue:))
        else { return nil }
        self.init(
            address: address, operation: operation, previousDriver: fields["previous_driver"].flatMap(DriverName.init),
            previousOverride: fields["previous_override"], pid: fields["pid"].flatMap(Int32.init) ?? 0,
            command: fields["comm"] ?? "")
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
        /// A live process is changing the device (its record, when already written).
        case busy(InFlightRecord?)

        public var description: String {
            switch self {
            case let .unrecorded(directory, errno):
                "could not record the change in \(directory) (\(Errno.name(errno)): \(Errno.message(errno))), so a crash "
                    + "could not be undone; nothing was written. Make \(directory) writable (or pass --run-dir) and try again"
            case .busy(nil):
                "the device is being changed by another process; nothing was written. Wait for it to finish and try again"
            case let .busy(record?):
                "the device is being changed by pid \(record.pid) (\(record.command)); nothing was written. "
                    + "Wait for it to finish and try again"
            }
        }
    }
}
