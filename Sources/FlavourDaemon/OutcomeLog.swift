import FlavourCore
import FlavourEngine
import Logging

/// One structured log entry per request outcome: its kind's constant message, MESSAGE_ID
/// and level (`OutcomeKind`), and the device's fields. Keys are dotted; the journald handler turns `pci.slot_name` into PCI_SLOT_NAME.
/// Each entry is also counted by the fleet publisher's metrics, here, so the two never disagree.
public struct OutcomeLog: Sendable {
    public let logger: Logger
    let fleet: FleetPublisher?

    public init(logger: Logger, fleet: FleetPublisher? = nil) {
        self.logger = logger
        self.fleet = fleet
    }

    public func record(_ request: FlavourRequest, _ outcome: RequestOutcome) {
        let kind = outcome.kind
        var metadata: Logger.Metadata = [
            "message_id": "\(kind.messageID)",
            "pci.slot_name": "\(request.address)",
            "driver.flavour": "\(request.requested)",
            "request.origin": "\(request.origin.rawValue)",
        ]
        if let uuid = request.uuid { metadata["synth.uuid"] = "\(uuid)" }
        if let groupOf = request.groupOf { metadata["request.group_of"] = "\(groupOf)" }
        switch outcome {
        case .superseded:
            break
        case .dropped(let reason):
            metadata["reason"] = "\(reason)"
        case .done(let bind):
            if let modalias = bind.modalias {
                metadata["modalias"] = "\(modalias)"
                metadata["pci.id"] = "\(modalias.pciID.uppercased())"
            }
            if let driver = bind.driver { metadata["driver"] = "\(driver)" }
            if let previous = bind.previousDriver { metadata["driver.previous"] = "\(previous)" }
            switch bind.result {
            case .bound(_, let module), .fellBack(_, let module): metadata["module"] = "\(module)"
            case .refused(let why), .revertFailed(let why): metadata["reason"] = "\(why)"
            case .gone: metadata["reason"] = "device \(bind.address) was removed while the request was carried out"
            default: break
            }
            if !bind.attempts.isEmpty {
                metadata["attempts"] = "\(bind.attempts.map(\.description).joined(separator: "; "))"
            }
            if let errno = bind.lastErrno { metadata["errno"] = "\(errno)" }
        }
        fleet?.record(request, outcome)  // counted before it is logged: whoever saw the entry finds it counted
        logger.log(level: kind.level, kind.message, metadata: metadata)
    }

    /// A request that never reached the scheduler: bad device name, unknown flavour.
    /// The first 64 Unicode scalars: a Character prefix is unbounded (one letter and any
    /// number of combining marks is one Character).
    static func cut(_ text: String) -> String { String(String.UnicodeScalarView(text.unicodeScalars.prefix(64))) }

    public func rejected(device: String, value: String?, reason: String, uuid: String? = nil) {
        var metadata: Logger.Metadata = [
            "message_id": "\(OutcomeKind.rejected.messageID)", "pci.slot_name": "\(Self.cut(device))", "reason": "\(reason)",
        ]
        if let value { metadata["driver.flavour"] = "\(Self.cut(value))" }
        if let uuid { metadata["synth.uuid"] = "\(Self.cut(uuid))" }
        fleet?.rejected(value: value)
        logger.log(level: OutcomeKind.rejected.level, OutcomeKind.rejected.message, metadata: metadata)
    }
}
