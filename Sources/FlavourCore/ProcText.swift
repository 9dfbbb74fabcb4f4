/// Text as /proc shows it.
enum ProcText {
    /// Undoes `seq_escape`/`mangle_path`: space, tab, newline and backslash appear as
    /// three-digit octal escapes (`\040`).
    static func unescape<S: StringProtocol>(_ text: S) -> String {
        let bytes = Array(text.utf8)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\"), index + 3 < bytes.count,
               bytes[index + 1...index + 3].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) }),
               let value = UInt8(String(decoding: bytes[index + 1...index + 3], as: UTF8.self), radix: 8) {
                result.append(value)
                index += 4
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}
