import Logging
import Synchronization

/// Keeps every log entry, like swift-log's in-memory handler.
public final class LogRecorder: @unchecked Sendable {
    public init() {}
    public struct Entry: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]
    }
    public let entries = Mutex<[Entry]>([])
    public var all: [Entry] { entries.withLock { $0 } }

    public var logger: Logger {
        Logger(label: "flavourd-test") { _ in Handler(recorder: self) }
    }

    /// Entries that are request outcomes (they carry a MESSAGE_ID).
    public var outcomes: [Entry] { entries.withLock { $0.filter { $0.metadata["message_id"] != nil } } }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
            recorder.entries.withLock { $0.append(Entry(level: event.level, message: event.message.description, metadata: merged)) }
        }
    }
}

