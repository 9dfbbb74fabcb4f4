import FlavourCore
import FlavourEngine
import Logging

/// One structured log entry per request outcome: a constant message per kind, a fixed
/// MESSAGE_ID per kind (`journalctl MESSAGE_ID=...` finds them all), and the device's
/// fields. Keys are dotted; the journald handler turns `pci.slot_name` into PCI_SLOT_NAME.
public struct OutcomeLog: Sendable {
    /// The kinds of outcome, each with its journal MESSAGE_ID.
    public enum Kind: String, CaseIterable, Sendable {
        case bound, fellBack = "fell-back", unchanged, failedRolledBack = "failed-rolled-back"
        case failedNotRestored = "failed-not-restored", reverted, revertFailed = "revert-failed"
        case rejected, superseded, dropped

        public var messageID: String {
            switch self {
            case .bound: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a11"
            case .fellBack: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a12"
            case .unchanged: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a13"
            case .failedRolledBack: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a14"
            case .failedNotRestored: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a15"
            case .reverted: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a16"
            case .revertFailed: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a17"
            case .rejected: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a18"
            case .superseded: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a19"
            case .dropped: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a1a"
            }
        }

        var message: Logger.Message {
            switch self {
            case .bound: "Device bound to flavour driver"
            case .fellBack: "Device bound after falling back"
            case .unchanged: "Device already as requested"
            case .failedRolledBack: "Request failed, device restored"
            case .failedNotRestored: "Request failed, device not restored"
            case .reverted: "Device reverted to default driver"
            case .revertFailed: "Revert failed"
            case .rejected: "Request rejected"
            case .superseded: "Request superseded by a newer one"
            case .dropped: "Request dropped"
            }
        }

        var level: Logger.Level {
            switch self {
            case .bound, .unchanged, .reverted, .superseded: .info
            case .fellBack, .rejected, .dropped: .warning
            case .failedRolledBack, .revertFailed: .error
            case .failedNotRestored: .critical
            }
        }
    }

    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public static func kind(of outcome: RequestOutcome) -> Kind {
        switch outcome {
        case .superseded: return .superseded
        case .dropped: return .dropped
        case .done(let bind):
            switch bind.result {
            case .bound: return .bound
            case .fellBack: return .fellBack
            case .alreadyBound, .alreadyDefault: return .unchanged
            case .failedRestored: return .failedRolledBack
            case .failedNotRestored: return .failedNotRestored
            case .refused: return .rejected
            case .reverted: return .reverted
            case .revertFailed: return .revertFailed
            case .gone: return .dropped
            }
        }
    }

    public func record(_ request: FlavourRequest, _ outcome: RequestOutcome) {
        let kind = Self.kind(of: outcome)
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
        logger.log(level: kind.level, kind.message, metadata: metadata)
    }

    /// A request that never reached the scheduler: bad device name, unknown flavour.
    /// The first 64 Unicode scalars: a Character prefix is unbounded (one letter and any
    /// number of combining marks is one Character).
    static func cut(_ text: String) -> String { String(String.UnicodeScalarView(text.unicodeScalars.prefix(64))) }

    public func rejected(device: String, value: String?, reason: String, uuid: String? = nil) {
        var metadata: Logger.Metadata = [
            "message_id": "\(Kind.rejected.messageID)", "pci.slot_name": "\(Self.cut(device))", "reason": "\(reason)",
        ]
        if let value { metadata["driver.flavour"] = "\(Self.cut(value))" }
        if let uuid { metadata["synth.uuid"] = "\(Self.cut(uuid))" }
        logger.log(level: Kind.rejected.level, Kind.rejected.message, metadata: metadata)
    }
}
