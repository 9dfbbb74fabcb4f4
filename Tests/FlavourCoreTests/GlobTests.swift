import Testing
import Glibc
@testable import FlavourCore

/// Expectations are those of glibc fnmatch(pattern, text, 0), the call kmod makes.
@Suite struct GlobTests {
    @Test(arguments: [
        ("vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00", true),
        ("vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00", true),
        ("vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i*", "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00", false),
        ("pci:v*d*sv*sd*bc01sc08i02*", "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02", true),
        ("pci:v*d*sv*sd*bc01sc08i02*", "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i01", false),
        ("pci:v0000?AF4*", "pci:v00001AF4d1", true),
        ("pci:v0000[0-2]AF4*", "pci:v00001AF4", true),
        ("pci:v0000[!1]AF4*", "pci:v00001AF4", false),
        ("pci:v0000[^1]AF4*", "pci:v00002AF4", true),
        ("pci:v0000[]]AF4*", "pci:v0000]AF4", true),
        ("a[b", "a[b", true),  // unclosed bracket is a literal
        ("[b", "b", false),  // ...even when a member would have matched
        ("[[b", "[[b", true),
        ("{*[0'-", "{*[0'-", false),  // a range cut off by the end fails (found by the fuzzer in CI)
        ("[!]", "]", false),
        ("[!]", "[!]", true),
        ("a\\*", "a*", true),
        ("*[0-\\*\u{08}B]", "=0", false),  // found by the fuzzer: the range ends at the escaped `*` (0x2A), so it is empty
        ("[a-\\z]", "m", true),
        ("a\\*", "ab", false),
        ("v\\", "v\\", false),  // a trailing backslash matches nothing (found by Tests/Fuzz/alias-pattern)
        ("*", "", true),
        ("", "", true),
        ("", "a", false),
        ("a*b*c", "aXXbYYc", true),
        ("a*b*c", "aXXbYYcZ", false),
        ("a/*", "a/b/c", true),  // no FNM_PATHNAME
        ("0000:3b:00.*", "0000:3b:00.7", true),
        ("0000:3b:00.*", "0000:3b:01.0", false),
    ])
    func matchesLikeFnmatch(pattern: String, text: String, expected: Bool) {
        #expect(Glob.matches(pattern: pattern, text: text) == expected)
    }

    @Test(arguments: [
        ("vfio_pci:v*d*sv*sd*bc*sc*i*", 7),
        ("vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*", 5),
        ("pci:v*d*sv*sd*bc01sc08i02*", 5),
        ("pci:v0000[0-9]AF4?*", 3),
        ("a\\*b", 0),
        ("plain", 0),
    ])
    func countsWildcards(pattern: String, count: Int) {
        #expect(Glob.wildcardCount(Array(pattern.utf8)) == count)
    }
}

/// Every pattern of up to five bytes over the bytes that make glob syntax (plus two
/// ordinary ones), against every text of up to two bytes: Glob and glibc's fnmatch must
/// agree on all of them. Malformed sets are where implementations differ, and the fuzzer
/// found two such differences one at a time; this closes the small cases all at once.
@Suite struct GlobAgainstFnmatchTests {
    @Test func agreesWithFnmatchOnEveryShortPattern() {
        let patternBytes = Array("[]!^-\\*?a".utf8)
        let textBytes = Array("a[]-!\\".utf8)
        let patterns = strings(over: patternBytes, upTo: 5)
        let texts = strings(over: textBytes, upTo: 2)
        var disagreements: [String] = []
        for pattern in patterns {
            for text in texts where Glob.matches(pattern: pattern, text: text) != fnmatches(pattern, text) {
                disagreements.append("\(String(decoding: pattern, as: UTF8.self).debugDescription) on \(String(decoding: text, as: UTF8.self).debugDescription)")
            }
        }
        #expect(patterns.count * texts.count > 2_800_000)
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.prefix(10))")
    }

    private func strings(over alphabet: [UInt8], upTo length: Int) -> [[UInt8]] {
        var all: [[UInt8]] = [[]]
        var previous: [[UInt8]] = [[]]
        for _ in 0..<length {
            previous = previous.flatMap { s in alphabet.map { s + [$0] } }
            all += previous
        }
        return all
    }

    private func fnmatches(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        (pattern + [0]).withUnsafeBufferPointer { p in
            (text + [0]).withUnsafeBufferPointer { t in
                p.withMemoryRebound(to: CChar.self) { p in
                    t.withMemoryRebound(to: CChar.self) { t in fnmatch(p.baseAddress!, t.baseAddress!, 0) == 0 }
                }
            }
        }
    }
}
