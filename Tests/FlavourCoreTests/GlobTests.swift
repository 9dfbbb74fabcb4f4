import Testing
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
