import Testing
@testable import FlavourCore

/// The text exposition format node_exporter's textfile collector parses.
@Suite struct PrometheusTextTests {
    @Test func writesHelpTypeAndSamples() {
        var text = PrometheusText()
        text.family("driver_flavour_outcomes_total", .counter, help: "Requests ended.", [
            .init([("kind", "bound"), ("flavour", "vfio")], 3), .init([("kind", "rejected"), ("flavour", "")], 0),
        ])
        text.family("driver_flavour_devices_stuck", .gauge, help: "Stuck.", [.init([], 0)])
        #expect(text.text == """
            # HELP driver_flavour_outcomes_total Requests ended.
            # TYPE driver_flavour_outcomes_total counter
            driver_flavour_outcomes_total{kind="bound",flavour="vfio"} 3
            driver_flavour_outcomes_total{kind="rejected",flavour=""} 0
            # HELP driver_flavour_devices_stuck Stuck.
            # TYPE driver_flavour_devices_stuck gauge
            driver_flavour_devices_stuck 0

            """)
    }

    /// The format's three escapes in label values, two in HELP; nothing else is touched.
    @Test func escapesWhatTheFormatEscapes() {
        var text = PrometheusText()
        text.family("m", .gauge, help: "a \\ b\nc \"d\"", [.init([("l", "x\\y\"z\nw ü")], 1)])
        #expect(text.text == "# HELP m a \\\\ b\\nc \"d\"\n# TYPE m gauge\nm{l=\"x\\\\y\\\"z\\nw ü\"} 1\n")
    }

    @Test(arguments: [
        (UInt64(0), "0.000"), (1_733_131_200_123_456_789, "1733131200.123"), (5_000_000, "0.005"), (999_999_999, "0.999"),
    ])
    func timesAreSecondsWithMilliseconds(nanoseconds: UInt64, text: String) {
        #expect(PrometheusText.Sample(secondsFromNanoseconds: nanoseconds).value == text)
    }

    @Test(arguments: [
        ("driver_flavour_info", true, true), ("a:b", true, true), ("a:b", false, false), ("_x", false, true),
        ("9lives", true, false), ("", true, false), ("a-b", true, false), ("ä", true, false),
    ])
    func names(name: String, colons: Bool, valid: Bool) {
        #expect(PrometheusText.isValidName(name, colons: colons) == valid)
    }
}
