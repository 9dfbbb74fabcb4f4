import Logging

/// flavourd's journal entries that are not a request's outcome but that people and the guest
/// scenarios select by MESSAGE_ID (Tests/vm/lib.sh): a device whose request hangs in the
/// kernel, and uevents lost and made up for. Their IDs follow `OutcomeKind`'s; like those,
/// they never change.
public enum JournalNotice: String, CaseIterable, Sendable {
    /// A request's sysfs write has not returned by the deadline (`--stuck-after`): the
    /// driver's probe or remove hangs. The request goes on; it ends with its outcome when the
    /// write returns.
    case stuck
    /// The monitor's receive buffer overran (ENOBUFS): uevents were lost.
    case eventsLost = "events-lost"
    /// The resync that follows: attribute values, standing requests and VF autoprobe re-read.
    case resynced

    public var messageID: String {
        switch self {
        case .stuck: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a1b"
        case .eventsLost: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a1c"
        case .resynced: "3c5e1e0a9d7f4b2a8f61c2d4b7e90a1d"
        }
    }

    public var message: Logger.Message {
        switch self {
        case .stuck: "Device stuck in the kernel"
        case .eventsLost: "Uevents lost, resyncing from sysfs; synthetic requests sent meanwhile may need repeating"
        case .resynced: "Resync done"
        }
    }

    public var level: Logger.Level {
        switch self {
        case .stuck, .eventsLost: .warning
        case .resynced: .notice
        }
    }
}
