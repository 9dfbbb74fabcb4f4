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
        let wanted = prefixes.map { $0.map { Array($0.utf8) } }
        let aliasWord = Array("alias".utf8)
        var lineNumber = 0
        var lineStart = 0
        let end = contents.count
        while lineStart < end {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < end, contents[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            let line = contents[lineStart..<lineEnd]
            let words = Words(line)
            guard words.count > 0 else { continue }  // blank or comment
            func warn(_ message: String) {
                result.warnings.append(ParseWarning(
                    file: file, line: lineNumber, text: String(decoding: line, as: UTF8.self), message: message))
            }
            guard words.count == 3, contents[words.first].elementsEqual(aliasWord) else {
                warn("expected 'alias PATTERN MODULE'")
                continue
            }
            let patternBytes = contents[words.second]
            // Aliases without a `prefix:` (`alias fs-xfs xfs`, `alias net-pf-10 ipv6`) are
            // valid lines, just never PCI ones.
            guard let colon = patternBytes.firstIndex(of: UInt8(ascii: ":")) else { continue }
            if let wanted, !wanted.contains(where: { patternBytes[..<colon].elementsEqual($0) }) { continue }
            guard let pattern = AliasPattern(String(decoding: patternBytes, as: UTF8.self)) else {
                warn("alias prefix is not a plain word")
                continue
            }
            guard let module = ModuleName(String(decoding: contents[words.third], as: UTF8.self)) else {
                warn("'\(String(decoding: contents[words.third], as: UTF8.self))' is not a module name")
                continue
            }
            let source = AliasSource(
                kind: .modulesAlias, file: file, line: lineNumber, sequence: firstSequence + lineNumber)
            result.entries.append(AliasEntry(pattern: pattern, module: module, source: source))
        }
        return result
    }

    /// The first three whitespace-separated words of a line and how many there are (up to
    /// 4, which means "too many"), without allocating; count 0 for blank and comment lines.
    struct Words {
        var count = 0
        var first = 0..<0
        var second = 0..<0
        var third = 0..<0

        init(_ line: ArraySlice<UInt8>) {
            var i = line.startIndex
            while i < line.endIndex, count < 4 {
                while i < line.endIndex, isSpace(line[i]) { i += 1 }
                guard i < line.endIndex else { break }
                if count == 0, line[i] == UInt8(ascii: "#") { return }
                let start = i
                while i < line.endIndex, !isSpace(line[i]) { i += 1 }
                switch count {
                case 0: first = start..<i
                case 1: second = start..<i
                case 2: third = start..<i
                default: break
                }
                count += 1
            }
        }
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
