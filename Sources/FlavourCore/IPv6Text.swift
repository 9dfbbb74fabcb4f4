/// IPv6 addresses as /proc prints them (32 hex digits) turned into RFC 5952 text.
public enum IPv6Text {
    /// `fd000000000000000000000000000002` → `fd00::2`; nil unless 32 hex digits.
    public static func format<S: StringProtocol>(hex: S) -> String? {
        let digits = Array(hex.utf8)
        guard digits.count == 32 else { return nil }
        var groups: [UInt16] = []
        for index in stride(from: 0, to: 32, by: 4) {
            guard let group = UInt16(String(decoding: digits[index..<index + 4], as: UTF8.self), radix: 16) else { return nil }
            groups.append(group)
        }
        // The longest run of two or more zero groups becomes "::" (the first, on a tie).
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else { index += 1; continue }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > best.length && end - index >= 2 { best = (index, end - index) }
            index = end
        }
        let text = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return text.joined(separator: ":") }
        let head = text[..<best.start].joined(separator: ":")
        let tail = text[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// fe80::/10 or ff00::/8.
    public static func isLinkLocalOrMulticast<S: StringProtocol>(hex: S) -> Bool {
        guard let first = UInt16(hex.prefix(4), radix: 16) else { return false }
        return first & 0xFFC0 == 0xFE80 || first & 0xFF00 == 0xFF00
    }
}
