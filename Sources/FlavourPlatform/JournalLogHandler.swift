import CSystemd
import Glibc
import Logging

/// A swift-log handler that writes structured entries to journald with
/// `sd_journal_sendv`: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE/LINE/FUNC and
/// one field per metadata entry (see `JournalEntry`).
///
/// When journald cannot take the entry (not running, socket gone), the line goes to
/// stderr instead so nothing is lost silently.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    /// SYSLOG_IDENTIFIER of every entry.
    public let identifier: String
    public let label: String

    public init(
        label: String,
        identifier: String = "flavourd",
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = mergedMetadata(handler: metadata, provider: metadataProvider, event: event.metadata)
        let entry = JournalEntry(
            level: event.level, message: event.message, metadata: merged, error: event.error,
            identifier: identifier, file: event.file, function: event.function, line: event.line
        )
        let result = Self.send(entry)
        if result < 0 {
            StderrLogHandler.write(StderrLogHandler.line(level: event.level, message: event.message, metadata: merged))
        }
    }

    /// Sends one entry; 0 on success, a negative errno otherwise.
    ///
    /// All fields are laid out in one buffer and the iovecs point into it inside a
    /// single `withUnsafeBufferPointer`, so no pointer outlives its storage. Values with
    /// a newline are fine: sd_journal_sendv switches those to the binary
    /// `NAME\n<le64 size><value>\n` form itself (src/libsystemd/sd-journal/journal-send.c).
    public static func send(_ entry: JournalEntry) -> Int32 {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        buffer.reserveCapacity(entry.fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 1 })
        ranges.reserveCapacity(entry.fields.count)
        for field in entry.fields {
            let start = buffer.count
            buffer.append(contentsOf: field.name.utf8)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: field.value.utf8)
            ranges.append(start..<buffer.count)
        }
        return buffer.withUnsafeMutableBufferPointer { bytes -> Int32 in
            guard let base = bytes.baseAddress else { return -EINVAL }
            let vectors = ranges.map { range in
                iovec(iov_base: UnsafeMutableRawPointer(base + range.lowerBound), iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { vectors in
                sd_journal_sendv(vectors.baseAddress, Int32(vectors.count))
            }
        }
    }
}

/// swift-log's precedence: handler metadata, then the provider's, then the call's.
func mergedMetadata(
    handler: Logger.Metadata, provider: Logger.MetadataProvider?, event: Logger.Metadata?
) -> Logger.Metadata {
    var merged = handler
    if let provided = provider?.get(), !provided.isEmpty {
        merged.merge(provided) { _, new in new }
    }
    if let event, !event.isEmpty {
        merged.merge(event) { _, new in new }
    }
    return merged
}
