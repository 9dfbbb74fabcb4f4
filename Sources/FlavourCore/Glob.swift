/// Shell-style wildcard matching with the semantics kmod relies on, `fnmatch(pattern,
/// key, 0)`: `*` matches any run of bytes (`/` included: no FNM_PATHNAME), `?` one byte,
/// `[...]` a set with ranges and `!`/`^` negation, and `\` escapes the next byte.
/// Works on bytes: modaliases and alias patterns are ASCII.
public enum Glob {
    /// True when `text` matches `pattern` as fnmatch(3) with flags 0 would say.
    public static func matches<P: RandomAccessCollection, T: RandomAccessCollection>(
        pattern: P, text: T
    ) -> Bool where P.Element == UInt8, P.Index == Int, T.Element == UInt8, T.Index == Int {
        var p = pattern.startIndex
        var t = text.startIndex
        // Where to resume after the last `*`: pattern position after it, text position it covers.
        var starPattern: Int? = nil
        var starText = 0
        while t < text.endIndex {
            if p < pattern.endIndex {
                let byte = pattern[p]
                if byte == UInt8(ascii: "*") {
                    starPattern = p + 1
                    starText = t
                    p += 1
                    continue
                }
                if let next = matchOne(pattern: pattern, at: p, byte: text[t]) {
                    p = next
                    t += 1
                    continue
                }
            }
            guard let resume = starPattern else { return false }
            starText += 1
            t = starText
            p = resume
        }
        while p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }

    public static func matches(pattern: String, text: String) -> Bool {
        matches(pattern: Array(pattern.utf8), text: Array(text.utf8))
    }

    /// Matches one text byte against the pattern element at `p`; returns the index after
    /// that element, or nil when it does not match.
    private static func matchOne<P: RandomAccessCollection>(pattern: P, at p: Int, byte: UInt8) -> Int?
    where P.Element == UInt8, P.Index == Int {
        switch pattern[p] {
        case UInt8(ascii: "?"):
            return p + 1
        case UInt8(ascii: "["):
            if let (matched, next) = matchBracket(pattern: pattern, at: p, byte: byte) {
                return matched ? next : nil
            }
            return byte == UInt8(ascii: "[") ? p + 1 : nil  // no closing `]`: a literal `[`
        case UInt8(ascii: "\\"):
            // A trailing `\` escapes nothing, and glibc's fnmatch then matches nothing.
            return p + 1 < pattern.endIndex && pattern[p + 1] == byte ? p + 2 : nil
        case let literal:
            return literal == byte ? p + 1 : nil
        }
    }

    /// Evaluates `[...]` at `p`: whether `byte` is in the set, and the index after `]`.
    /// Nil when the bracket is not closed.
    static func matchBracket<P: RandomAccessCollection>(pattern: P, at p: Int, byte: UInt8) -> (Bool, Int)?
    where P.Element == UInt8, P.Index == Int {
        var i = p + 1
        var negate = false
        if i < pattern.endIndex, pattern[i] == UInt8(ascii: "!") || pattern[i] == UInt8(ascii: "^") {
            negate = true
            i += 1
        }
        var matched = false
        var first = true
        while i < pattern.endIndex {
            var low = pattern[i]
            if low == UInt8(ascii: "]"), !first { return (matched != negate, i + 1) }
            first = false
            if low == UInt8(ascii: "\\"), i + 1 < pattern.endIndex {
                i += 1
                low = pattern[i]
            }
            var high = low
            if i + 2 < pattern.endIndex, pattern[i + 1] == UInt8(ascii: "-"), pattern[i + 2] != UInt8(ascii: "]") {
                i += 2
                // The range's end may be escaped too: `[0-\*]` ends at `*`, as in fnmatch.
                if pattern[i] == UInt8(ascii: "\\"), i + 1 < pattern.endIndex { i += 1 }
                high = pattern[i]
            }
            if low <= byte && byte <= high { matched = true }
            i += 1
        }
        return nil
    }

    /// How many wildcard elements (`*`, `?`, `[...]`) a pattern has: the specificity measure
    /// of the override_only commit, where fewer wildcards means a more specific alias.
    public static func wildcardCount<P: RandomAccessCollection>(_ pattern: P) -> Int
    where P.Element == UInt8, P.Index == Int {
        var count = 0
        var i = pattern.startIndex
        while i < pattern.endIndex {
            switch pattern[i] {
            case UInt8(ascii: "\\"):
                i += 2
                continue
            case UInt8(ascii: "*"), UInt8(ascii: "?"):
                count += 1
            case UInt8(ascii: "["):
                if let (_, next) = matchBracket(pattern: pattern, at: i, byte: 0) {
                    count += 1
                    i = next
                    continue
                }
            default:
                break
            }
            i += 1
        }
        return count
    }

    /// True when the pattern has no wildcard element at all.
    public static func isLiteral(_ pattern: String) -> Bool {
        wildcardCount(Array(pattern.utf8)) == 0 && !pattern.utf8.contains(UInt8(ascii: "\\"))
    }
}
