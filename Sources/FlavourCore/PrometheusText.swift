/// Prometheus's text exposition format (0.0.4), as node_exporter's textfile collector reads
/// `*.prom` files: per family a `# HELP` and a `# TYPE` line, then one `name{label="value"} value`
/// line per sample. Written by hand: a client library would add its code to the daemon for the
/// few lines this takes.
public struct PrometheusText: Sendable {
    public enum MetricType: String, Sendable {
        case counter, gauge
    }

    /// One line of a family: its labels, in the order given, and its value as written.
    public struct Sample: Sendable {
        public let labels: [(name: String, value: String)]
        public let value: String

        public init(_ labels: [(name: String, value: String)] = [], _ value: Int) {
            self.labels = labels
            self.value = String(value)
        }

        /// A time as Prometheus wants it: seconds since the epoch, in base units; milliseconds kept.
        public init(_ labels: [(name: String, value: String)] = [], secondsFromNanoseconds nanoseconds: UInt64) {
            self.labels = labels
            let milliseconds = nanoseconds / 1_000_000
            let fraction = String(milliseconds % 1000)
            value = "\(milliseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        }
    }

    public private(set) var text = ""

    public init() {}

    /// Appends a family. Names are the caller's constants; they must follow the format's rules
    /// (`isValidName`), which is checked in debug builds.
    public mutating func family(_ name: String, _ type: MetricType, help: String, _ samples: [Sample]) {
        assert(Self.isValidName(name, colons: true), "metric name \(name)")
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n"
        for sample in samples {
            text += name
            if !sample.labels.isEmpty {
                assert(sample.labels.allSatisfy { Self.isValidName($0.name, colons: false) && !$0.name.hasPrefix("__") })
                text += "{" + sample.labels.map { "\($0.name)=\"\(Self.escapeLabelValue($0.value))\"" }.joined(separator: ",") + "}"
            }
            text += " \(sample.value)\n"
        }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names; label names have no `:`.
    public static func isValidName(_ name: String, colons: Bool) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || (colons && byte == UInt8(ascii: ":"))
        }
    }

    /// A label value may hold anything; `\`, `"` and a line feed are escaped.
    static func escapeLabelValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") })
        else { return value }
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// HELP text escapes `\` and a line feed (a `"` stays).
    static func escapeHelp(_ help: String) -> String {
        var escaped = ""
        for character in help.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}
