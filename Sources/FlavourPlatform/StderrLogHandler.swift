import FlavourPOSIX
import Glibc
import Logging

/// A swift-log handler for when journald is not listening: one plain line per entry
/// on stderr, `LEVEL message key=value key=value`, keys sorted, values quoted when
/// they contain spaces, quotes or control characters.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String

    public init(
        label: String,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = mergedMetadata(handler: metadata, provider: metadataProvider, event: event.metadata)
        if let error = event.error {
            merged["error"] = "\(String(describing: error))"
        }
        Self.write(Self.line(level: event.level, message: event.message, metadata: merged))
    }

    /// `WARNING Bound device pci.slot_name=0000:03:00.0 reason="no such driver"`
    public static func line(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata) -> String {
        var line = level.rawValue.uppercased() + " " + escapedControlCharacters(message.description)
        for key in metadata.keys.sorted() {
            line += " " + key + "=" + quotedIfNeeded(metadata[key]!.description)
        }
        return line
    }

    static func quotedIfNeeded(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { scalar in
            scalar == " " || scalar == "\"" || scalar == "=" || scalar.value < 0x20 || scalar.value == 0x7F
        }
        guard needsQuotes else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            default: quoted += escapedControlCharacters(String(scalar))
            }
        }
        return quoted + "\""
    }

    /// Keeps one entry on one line.
    static func escapedControlCharacters(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }

    /// One write(2) per line, so lines from concurrent tasks do not interleave.
    static func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Syscall.retrying { Glibc.write(STDERR_FILENO, raw.baseAddress! + offset, raw.count - offset) }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
