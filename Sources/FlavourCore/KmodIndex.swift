/// Reads depmod's binary index format (`modules.alias.bin`, `modules.builtin.alias.bin`),
/// as `libkmod/libkmod-index.c` defines it: a header (magic 0xB007F457, version 2.x,
/// root offset), then trie nodes. Integers are big-endian. A node offset carries flags
/// in its top bits: 0x80000000 the node starts with a NUL-terminated prefix string,
/// 0x20000000 it has children (first char, last char, one offset per char in between,
/// 0 for none), 0x40000000 it has values (count, then per value a priority and a
/// NUL-terminated string). A key is the path of prefixes and child chars to a node.
///
/// Built-in drivers' aliases exist only in `modules.builtin.alias.bin`: a tool reading
/// the text file alone never sees a built-in variant driver (KERNEL-FACTS.md).
public enum KmodIndex {
    public struct Record: Hashable, Sendable {
        public let key: String
        public let value: String
        public let priority: UInt32
    }

    public struct FormatError: Error, Hashable, Sendable, CustomStringConvertible {
        public let file: String
        public let message: String
        public var description: String { "\(file): not a kmod index: \(message)" }
    }

    static let magic: UInt32 = 0xB007_F457
    static let flagPrefix: UInt32 = 0x8000_0000
    static let flagValues: UInt32 = 0x4000_0000
    static let flagChildren: UInt32 = 0x2000_0000
    static let flagMask: UInt32 = 0xE000_0000

    /// Every (key, value) in the index, in key order; values of one key by priority.
    public static func records(_ bytes: [UInt8], file: String) throws(FormatError) -> [Record] {
        let reader = Reader(bytes: bytes, file: file)
        guard try reader.u32(at: 0) == magic else { throw reader.error("bad magic") }
        let version = try reader.u32(at: 4)
        guard version >> 16 == 2 else { throw reader.error("unsupported version \(version >> 16)") }
        var records: [Record] = []
        var visited = Set<UInt32>()
        try reader.walk(offset: try reader.u32(at: 8), key: [], into: &records, depth: 0, visited: &visited)
        return records
    }

    /// Builds match-table entries from a built-in alias index, keeping only `prefixes`.
    public static func aliasEntries(
        _ bytes: [UInt8], file: String, prefixes: Set<String>? = nil, firstSequence: Int = 0
    ) throws(FormatError) -> (entries: [AliasEntry], warnings: [ParseWarning]) {
        var entries: [AliasEntry] = []
        var warnings: [ParseWarning] = []
        let ordered = try records(bytes, file: file).enumerated().sorted {
            ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset)
        }
        for (position, record) in ordered.map(\.element).enumerated() {
            // Aliases without a `prefix:` (`crct10dif`, `ecdsa-nist-p256`) are valid, just never PCI ones.
            guard record.key.utf8.contains(UInt8(ascii: ":")) else { continue }
            guard let pattern = AliasPattern(record.key), let module = ModuleName(record.value) else {
                warnings.append(ParseWarning(
                    file: file, line: position + 1, text: "\(record.key) \(record.value)",
                    message: "not an alias pattern and module name"))
                continue
            }
            if let prefixes, !prefixes.contains(pattern.prefix) { continue }
            let source = AliasSource(
                kind: .builtinAlias, file: file, line: position + 1, sequence: firstSequence + position + 1)
            entries.append(AliasEntry(pattern: pattern, module: module, source: source))
        }
        return (entries, warnings)
    }

    private struct Reader {
        let bytes: [UInt8]
        let file: String

        func error(_ message: String) -> FormatError { FormatError(file: file, message: message) }

        func u32(at offset: Int) throws(FormatError) -> UInt32 {
            guard offset >= 0, offset + 4 <= bytes.count else { throw error("offset \(offset) past the end") }
            return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
                | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
        }

        func string(at offset: Int) throws(FormatError) -> (ArraySlice<UInt8>, Int) {
            guard offset >= 0, offset <= bytes.count,
                  let end = bytes[offset...].firstIndex(of: 0)
            else { throw error("unterminated string at \(offset)") }
            return (bytes[offset..<end], end + 1)
        }

        func walk(
            offset flagged: UInt32, key: [UInt8], into records: inout [Record], depth: Int, visited: inout Set<UInt32>
        ) throws(FormatError) {
            // A well-formed trie is a tree: a node reached twice is a cycle or a shared
            // subtree, and either multiplies the work (a node that is its own child under a
            // long prefix grows the key by that prefix at every visit).
            var cursor = Int(flagged & ~flagMask)
            guard depth < 4096, visited.insert(UInt32(cursor)).inserted else {
                throw error("node graph is not a tree (node \(cursor) reached twice)")
            }
            var key = key
            if flagged & flagPrefix != 0 {
                let (prefix, next) = try string(at: cursor)
                key.append(contentsOf: prefix)
                cursor = next
            }
            var children: [(UInt8, UInt32)] = []
            if flagged & flagChildren != 0 {
                guard cursor + 2 <= bytes.count else { throw error("truncated node at \(cursor)") }
                let first = bytes[cursor], last = bytes[cursor + 1]
                guard first <= last else { throw error("child range \(first)>\(last) at \(cursor)") }
                cursor += 2
                for char in first...last {
                    let child = try u32(at: cursor)
                    cursor += 4
                    if child != 0 { children.append((char, child)) }
                }
            }
            if flagged & flagValues != 0 {
                let count = try u32(at: cursor)
                cursor += 4
                guard Int(count) <= bytes.count else { throw error("value count \(count) at \(cursor)") }
                let keyText = String(decoding: key, as: UTF8.self)
                for _ in 0..<count {
                    let priority = try u32(at: cursor)
                    let (value, next) = try string(at: cursor + 4)
                    cursor = next
                    records.append(Record(key: keyText, value: String(decoding: value, as: UTF8.self), priority: priority))
                }
            }
            for (char, child) in children {
                try walk(offset: child, key: key + [char], into: &records, depth: depth + 1, visited: &visited)
            }
        }
    }
}
