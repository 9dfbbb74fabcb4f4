import FlavourEngine
import InMemoryLogging
import Logging

/// What a daemon under test logged, kept by swift-log's InMemoryLogHandler at every level;
/// read back with metadata as text, as the journal stores it.
struct DaemonLog {
    struct Entry {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let handler: InMemoryLogHandler

    init() {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        self.handler = handler
    }

    var logger: Logger {
        let handler = handler
        return Logger(label: "flavourd-test") { _ in handler }
    }

    var all: [Entry] { handler.entries.map(Self.entry) }

    /// Entries that are request outcomes (they carry an outcome kind's MESSAGE_ID; the
    /// notices of `JournalNotice` carry theirs).
    var outcomes: [Entry] { handler.entries.filter(Self.isOutcome).map(Self.entry) }

    var outcomeCount: Int { handler.entries.count(where: Self.isOutcome) }

    private static let outcomeIDs = Set(OutcomeKind.allCases.map(\.messageID))

    private static func isOutcome(_ entry: InMemoryLogHandler.Entry) -> Bool {
        entry.metadata["message_id"].map { outcomeIDs.contains($0.description) } ?? false
    }

    private static func entry(_ entry: InMemoryLogHandler.Entry) -> Entry {
        Entry(level: entry.level, message: entry.message.description, metadata: entry.metadata.mapValues(\.description))
    }
}
