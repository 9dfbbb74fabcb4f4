import Testing
@testable import FlavourCore

/// `metrics-dir` and `node-labels-dir`: where flavourd publishes its fleet files.
@Suite struct PublishDirectoryTests {
    @Test(arguments: [
        ("-", PublishDirectory?.some(.none)),
        ("/var/lib/prometheus/node-exporter", .path("/var/lib/prometheus/node-exporter")),
        ("/var/lib/prometheus/node-exporter/", .path("/var/lib/prometheus/node-exporter")),
        ("/", .path("/")),
        ("relative/dir", nil), ("", nil), ("/a/./b", nil), ("/a/../b", nil), ("/a//b", nil), ("--", nil),
    ])
    func parses(word: String, expected: PublishDirectory?) {
        #expect(PublishDirectory(word) == expected)
    }

    @Test func theConfigurationNamesBothDirectories() throws {
        let config = try FlavourConfig.parse(files: [
            ("10-a.conf", "metrics-dir /srv/textfile   # node_exporter --collector.textfile.directory"),
            ("20-b.conf", "node-labels-dir -"),
        ])
        #expect(config.metricsDirectory == .path("/srv/textfile"))
        #expect(config.nodeLabelsDirectory == PublishDirectory.none)
        #expect(try FlavourConfig.parse(files: []).metricsDirectory == nil)
    }

    /// Two lines for one directory: which one wins would depend on file names, so neither does.
    @Test func aDirectorySetTwiceIsRefusedNamingTheFirst() throws {
        let error = try #require(throws: ConfigError.self) {
            try FlavourConfig.parse(files: [("10-a.conf", "metrics-dir /a"), ("20-b.conf", "metrics-dir /b")])
        }
        #expect(error.problems.map(\.message) == ["'metrics-dir' is already set (10-a.conf:1); keep one line"])
        #expect(error.problems.map(\.file) == ["20-b.conf"])
    }
}
