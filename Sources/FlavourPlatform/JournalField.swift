/// One `NAME=value` pair of a journal entry.
public struct JournalField: Sendable, Equatable, CustomStringConvertible {
    /// A valid journald field name: A-Z, 0-9 and `_`, not starting with `_` or a digit, at most 64 bytes.
    public var name: String
    /// Any text; newlines are allowed (sent in the binary-safe form).
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }
}
