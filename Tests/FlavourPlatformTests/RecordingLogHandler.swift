import Logging
import Synchronization

/// Keeps every log event, for asserting on what a component logged.
struct RecordingLogHandler: LogHandler {
    final class Store: Sendable {
        let events = Mutex<[(level: Logger.Level, message: String, file: String)]>([])
        var messages: [String] { events.withLock { $0.map(\.message) } }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.events.withLock { $0.append((event.level, event.message.description, event.file)) }
    }

    static func logger(level: Logger.Level = .trace) -> (Logger, Store) {
        let store = Store()
        var logger = Logger(label: "recording") { _ in RecordingLogHandler(store: store) }
        logger.logLevel = level
        return (logger, store)
    }
}
