import Logging

/// What `JournalLogHandler` sends for one log event, computed without I/O.
///
/// Fields come in a fixed order: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE,
/// CODE_LINE, CODE_FUNC, then the metadata sorted by field name (ERROR last when
/// the event carries an error).
public struct JournalEntry: Sendable, Equatable {
    public var fields: [JournalField]

    public init(fields: [JournalField]) {
        self.fields = fields
    }

    /// The fields this handler sets itself; metadata may not replace them.
    public static let reservedFieldNames: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
    ]

    public init(
        level: Logger.Level,
        message: Logger.Message,
        metadata: Logger.Metadata,
        error: (any Error)? = nil,
        identifier: String,
        file: String,
        function: String,
        line: UInt
    ) {
        var fields = [
            JournalField("MESSAGE", message.description),
            JournalField("PRIORITY", String(Self.priority(for: level))),
            JournalField("SYSLOG_IDENTIFIER", identifier),
            JournalField("CODE_FILE", file),
            JournalField("CODE_LINE", String(line)),
            JournalField("CODE_FUNC", function),
        ]
        var extra: [JournalField] = []
        for (key, value) in metadata {
            guard let name = Self.fieldName(forMetadataKey: key) else { continue }
            Self.flatten(value, name: name, into: &extra)
        }
        // Stable order for readers and tests; dictionary order is not.
        fields += extra.sorted { $0.name < $1.name }
        if let error {
            fields.append(JournalField("ERROR", String(describing: error)))
        }
        self.fields = fields
    }

    /// The syslog priority journald stores in PRIORITY (sd-daemon.h's SD_* levels).
    public static func priority(for level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7 // LOG_DEBUG
        case .info: 6 // LOG_INFO
        case .notice: 5 // LOG_NOTICE
        case .warning: 4 // LOG_WARNING
        case .error: 3 // LOG_ERR
        case .critical: 2 // LOG_CRIT
        }
    }

    /// The journald field name for a swift-log metadata key: upper-cased, every byte
    /// outside A-Z0-9_ becomes `_` (`pci.slot_name` → `PCI_SLOT_NAME`), leading `_`
    /// dropped (those names are trusted fields only journald may set), a leading
    /// digit prefixed with `F_`, cut to 64 bytes (journald drops longer names, see
    /// systemd's journal_field_valid). Nil for a key with nothing usable in it.
    /// A key that lands on a field this handler sets itself gets the prefix `META_`.
    public static func fieldName(forMetadataKey key: String) -> String? {
        guard var name = sanitizedName(key) else { return nil }
        if reservedFieldNames.contains(name) {
            name = String(("META_" + name).prefix(64))
        }
        return name
    }

    private static func sanitizedName(_ key: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(key.utf8.count)
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): bytes.append(byte - 32)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
                bytes.append(byte)
            default: bytes.append(UInt8(ascii: "_"))
            }
        }
        let start = bytes.firstIndex { $0 != UInt8(ascii: "_") } ?? bytes.endIndex
        bytes.removeFirst(start)
        guard let first = bytes.first else { return nil }
        if first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") {
            bytes.insert(contentsOf: Array("F_".utf8), at: 0)
        }
        return String(decoding: bytes.prefix(64), as: UTF8.self)
    }

    /// A dictionary becomes one field per entry (`pci: [slot: x]` → `PCI_SLOT`);
    /// a list becomes one text value `[a, b]`.
    static func flatten(_ value: Logger.MetadataValue, name: String, into fields: inout [JournalField]) {
        switch value {
        case .string(let text):
            fields.append(JournalField(name, text))
        case .stringConvertible(let convertible):
            fields.append(JournalField(name, convertible.description))
        case .array:
            fields.append(JournalField(name, value.description))
        case .dictionary(let dictionary):
            for (key, nested) in dictionary {
                guard let suffix = sanitizedName(key) else { continue }
                flatten(nested, name: String((name + "_" + suffix).prefix(64)), into: &fields)
            }
        }
    }
}
