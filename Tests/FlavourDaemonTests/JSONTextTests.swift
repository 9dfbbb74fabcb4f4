@testable import FlavourDaemon
import Testing

/// status.json is written without Foundation: strings must come out as valid JSON.
@Suite struct JSONTextTests {
    @Test(arguments: [
        ("0000:03:00.0", #""0000:03:00.0""#),
        ("", #""""#),
        (#"say "no""#, #""say \"no\"""#),
        (#"a\b"#, #""a\\b""#),
        ("line\nnext\ttab\r", #""line\nnext\ttab\r""#),
        ("bell\u{7}", #""bell\u0007""#),
        ("µs ünïcode", #""µs ünïcode""#),
    ])
    func stringsAreEscapedAsJSONRequires(value: String, expected: String) {
        #expect(JSONText.string(value) == expected)
    }

    @Test func objectsAndArrays() {
        #expect(JSONText.object([("a", "1"), ("b", JSONText.optional(nil))]) == #"{"a":1,"b":null}"#)
        #expect(JSONText.array([JSONText.string("x"), "2"]) == #"["x",2]"#)
    }
}
