import Logging

/// How a request ended, in the one vocabulary flavourd's journal, status.json, `flavourctl
/// status` and `flavourctl set` share: a name, a constant log message, a fixed MESSAGE_ID
/// (`journalctl MESSAGE_ID=...` finds every entry of a kind), the log level (journald's
/// PRIORITY), and whether the device ended as asked. The names and MESSAGE_IDs never
/// change: the guest scenarios (Tests/vm/lib.sh) and users' journal queries match on them.
public enum OutcomeKind: String, CaseIterable, Sendable {
    case bound, fellBack = "fell-back", unchanged, failedRolledBack = "failed-rolled-back"
    case failedNotRestored = "failed-not-restored", reverted, revertFailed = "revert-failed"
    case rejected, superseded, dropped

    /// As status.json's `result` and `flavourctl set` print it.
    public var name: String { rawValue }

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

    public var message: Logger.Message {
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

    /// The entry's level; the journal handler makes it PRIORITY (info 6, warning 4, error 3,
    /// critical 2).
    public var level: Logger.Level {
        switch self {
        case .bound, .unchanged, .reverted, .superseded: .info
        case .fellBack, .rejected, .dropped: .warning
        case .failedRolledBack, .revertFailed: .error
        case .failedNotRestored: .critical
        }
    }

    /// True when the device ended as requested (on a driver of the flavour, or back on its
    /// default driver).
    public var succeeded: Bool {
        switch self {
        case .bound, .fellBack, .unchanged, .reverted: true
        case .failedRolledBack, .failedNotRestored, .revertFailed, .rejected, .superseded, .dropped: false
        }
    }

    /// The kind a binder's result is reported as: coarser than `BindOutcome.Result.name`,
    /// which `flavourctl apply` prints (already-bound and already-default are both unchanged).
    public init(_ result: BindOutcome.Result) {
        switch result {
        case .bound: self = .bound
        case .fellBack: self = .fellBack
        case .alreadyBound, .alreadyDefault: self = .unchanged
        case .failedRestored: self = .failedRolledBack
        case .failedNotRestored: self = .failedNotRestored
        case .refused: self = .rejected
        case .reverted: self = .reverted
        case .revertFailed: self = .revertFailed
        case .gone: self = .dropped
        }
    }
}
