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
            switch bracket(pattern: pattern, at: p, byte: byte) {
            case .inSet(let next, let negated): return negated ? nil : next
            case .notInSet(let next, let negated): return negated ? next : nil
            case .literal: return byte == UInt8(ascii: "[") ? p + 1 : nil
            case .noMatch: return nil
            }
        case UInt8(ascii: "\\"):
            // A trailing `\` escapes nothing, and glibc's fnmatch then matches nothing.
            return p + 1 < pattern.endIndex && pattern[p + 1] == byte ? p + 2 : nil
        case let literal:
            return literal == byte ? p + 1 : nil
        }
    }

    /// What a `[` element says about one text byte.
    enum Bracket: Equatable {
        /// The byte is one of the set's members; `next` is the index after the closing `]`.
        case inSet(next: Int, negated: Bool)
        /// The byte is not a member; `next` is the index after the closing `]`.
        case notInSet(next: Int, negated: Bool)
        /// The pattern ended before a `]` closed the set: the `[` is an ordinary byte.
        case literal
        /// The scan met a range or a `\` cut off by the end of the pattern: nothing
        /// matches here, not even a literal `[`.
        case noMatch
    }

    /// Evaluates `[...]` at `p` for one byte the way glibc 2.36's fnmatch does (C locale,
    /// no POSIX classes): members are read left to right only until the byte is found, so
    /// whether a malformed set fails or is a literal `[` depends on the byte, exactly as
    /// it does there. A `]` right after `[` or `[!` is a member; `a-]` is not a range.
    /// `GlobAgainstFnmatchTests` holds this to the system's fnmatch on every short case.
    static func bracket<P: RandomAccessCollection>(pattern: P, at p: Int, byte: UInt8) -> Bracket
    where P.Element == UInt8, P.Index == Int {
        // The C string's terminating NUL stands for the end of the pattern.
        func at(_ k: Int) -> UInt8 { k < pattern.endIndex ? pattern[k] : 0 }
        let close = UInt8(ascii: "]"), dash = UInt8(ascii: "-"), escape = UInt8(ascii: "\\")
        var k = p + 1
        let negated = at(k) == UInt8(ascii: "!") || at(k) == UInt8(ascii: "^")
        if negated { k += 1 }
        var element = at(k)
        k += 1
        while true {
            var low = element
            if element == escape {
                low = at(k)
                k += 1
                if low == 0 { return .noMatch }
            } else if element == 0 {
                return .literal
            }
            let isRange = at(k) == dash && at(k + 1) != 0 && at(k + 1) != close
            if !isRange, low == byte { return skipRest(at: k, negated: negated, at) }
            element = at(k)
            k += 1
            if element == dash, at(k) != close {
                var high = at(k)
                k += 1
                if high == escape {
                    high = at(k)
                    k += 1
                }
                if high == 0 { return .noMatch }
                if low <= byte, byte <= high { return skipRest(at: k, negated: negated, at) }
                element = at(k)
                k += 1
            }
            if element == close { return .notInSet(next: k, negated: negated) }
        }
    }

    /// After a member matched: the index after the first unescaped `]`; a set that never
    /// closes is a literal `[` after all (what the system's fnmatch answers).
    private static func skipRest(at start: Int, negated: Bool, _ at: (Int) -> UInt8) -> Bracket {
        var k = start
        while true {
            let byte = at(k)
            k += 1
            switch byte {
            case UInt8(ascii: "]"): return .inSet(next: k, negated: negated)
            case 0: return .literal
            case UInt8(ascii: "\\"):
                if at(k) == 0 { return .noMatch }
                k += 1
            default: break
            }
        }
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
                // Byte 0 is in no set, so this finds where a well-formed set ends.
                if case .notInSet(let next, _) = bracket(pattern: pattern, at: i, byte: 0) {
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
}
