import Logging
import Synchronization

/// Keeps every log event with its metadata, for asserting on what was logged.
struct LogRecorder: LogHandler {
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    final class Store: Sendable {
        let entries = Mutex<[Entry]>([])
        var all: [Entry] { entries.withLock { $0 } }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
        store.entries.withLock { $0.append(Entry(level: event.level, message: event.message.description, metadata: merged)) }
    }

    static func logger() -> (Logger, Store) {
        let store = Store()
        var logger = Logger(label: "recording") { _ in LogRecorder(store: store) }
        logger.logLevel = .trace
        return (logger, store)
    }
}
