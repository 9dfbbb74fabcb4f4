/// A reader for journald's native protocol (systemd.journal-fields(7),
/// "Native Protocol"): one entry per datagram, each field either `KEY=value\n` or,
/// for values that may hold newlines or binary data, `KEY\n<le64 length><value>\n`.
enum JournalNativeProtocol {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    /// The fields in the order sent (a name may repeat).
    static func parse(_ bytes: [UInt8]) throws -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        var index = 0
        while index < bytes.count {
            guard let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else {
                throw ParseError(description: "field at byte \(index) has no terminating newline")
            }
            let line = bytes[index..<newline]
            if let equals = line.firstIndex(of: UInt8(ascii: "=")) {
                fields.append((String(decoding: bytes[index..<equals], as: UTF8.self),
                               String(decoding: bytes[(equals + 1)..<newline], as: UTF8.self)))
                index = newline + 1
                continue
            }
            let name = String(decoding: line, as: UTF8.self)
            let sizeStart = newline + 1
            guard sizeStart + 8 <= bytes.count else {
                throw ParseError(description: "binary field \(name) is missing its 64-bit size")
            }
            var size: UInt64 = 0
            for offset in 0..<8 {
                size |= UInt64(bytes[sizeStart + offset]) << (8 * UInt64(offset))
            }
            let valueStart = sizeStart + 8
            let valueEnd = valueStart + Int(size)
            guard valueEnd < bytes.count, bytes[valueEnd] == UInt8(ascii: "\n") else {
                throw ParseError(description: "binary field \(name) of \(size) bytes is not followed by a newline")
            }
            fields.append((name, String(decoding: bytes[valueStart..<valueEnd], as: UTF8.self)))
            index = valueEnd + 1
        }
        return fields
    }
}
