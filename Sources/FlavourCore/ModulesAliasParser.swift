/// Reads depmod's text `modules.alias`: lines of `alias PATTERN MODULE`, `#` comments.
/// A malformed line is skipped with a warning naming it; it never stops the parse.
public enum ModulesAliasParser {
    public struct Result: Sendable {
        public var entries: [AliasEntry] = []
        public var warnings: [ParseWarning] = []
    }

    /// Parses `contents` (the file's bytes). Only aliases whose prefix is in `prefixes`
    /// are kept (nil keeps all): the table needs `pci` and the flavours' prefixes, not
    /// the thousands of `usb:` and `acpi*:` lines.
    public static func parse(
        _ contents: [UInt8], file: String, prefixes: Set<String>? = nil, firstSequence: Int = 0
    ) -> Result {
        var result = Result()
        let wanted = prefixes.map { Set($0.map { Array($0.utf8) }) }
        var lineNumber = 0
        var lineStart = 0
        let end = contents.count
        while lineStart < end {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < end, contents[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            let line = contents[lineStart..<lineEnd]
            guard let words = splitWords(line) else { continue }  // blank or comment
            func warn(_ message: String) {
                result.warnings.append(ParseWarning(
                    file: file, line: lineNumber, text: String(decoding: line, as: UTF8.self), message: message))
            }
            guard words.count == 3, contents[words[0]].elementsEqual("alias".utf8) else {
                warn("expected 'alias PATTERN MODULE'")
                continue
            }
            let patternBytes = contents[words[1]]
            if let wanted {
                guard let colon = patternBytes.firstIndex(of: UInt8(ascii: ":")) else {
                    warn("alias pattern has no 'prefix:'")
                    continue
                }
                guard wanted.contains(Array(patternBytes[..<colon])) else { continue }
            }
            guard let pattern = AliasPattern(String(decoding: patternBytes, as: UTF8.self)) else {
                warn("alias pattern has no 'prefix:'")
                continue
            }
            guard let module = ModuleName(String(decoding: contents[words[2]], as: UTF8.self)) else {
                warn("'\(String(decoding: contents[words[2]], as: UTF8.self))' is not a module name")
                continue
            }
            let source = AliasSource(
                kind: .modulesAlias, file: file, line: lineNumber, sequence: firstSequence + lineNumber)
            result.entries.append(AliasEntry(pattern: pattern, module: module, source: source))
        }
        return result
    }

    /// Ranges of the whitespace-separated words of a line; nil for blank and comment lines.
    static func splitWords(_ line: ArraySlice<UInt8>) -> [Range<Int>]? {
        var words: [Range<Int>] = []
        var i = line.startIndex
        while i < line.endIndex {
            while i < line.endIndex, isSpace(line[i]) { i += 1 }
            guard i < line.endIndex else { break }
            if words.isEmpty, line[i] == UInt8(ascii: "#") { return nil }
            let start = i
            while i < line.endIndex, !isSpace(line[i]) { i += 1 }
            words.append(start..<i)
        }
        return words.isEmpty ? nil : words
    }

    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }
}

/// A line that was skipped, and why.
public struct ParseWarning: Hashable, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let text: String
    public let message: String

    public var description: String { "\(file):\(line): \(message), skipped: \(text)" }
}
