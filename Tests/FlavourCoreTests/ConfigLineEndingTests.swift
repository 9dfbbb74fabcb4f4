import Testing
@testable import FlavourCore

/// A config file saved with CRLF line ends: Swift reads "\r\n" as one Character, so
/// splitting on "\n" alone once made such a file one long line. Found by Tests/Fuzz/config.
@Suite struct ConfigLineEndingTests {
    @Test func crlfFileParsesLikeLF() throws {
        let crlf = try FlavourConfig.parse(files: [("crlf.conf", "flavour lab vfio_pci vfio_pci\r\nrequest lab 0000:03:00.0\r\n")])
        #expect(crlf.flavour(named: "lab")?.aliasPrefix == "vfio_pci")
        #expect(crlf.requests.map(\.selector.description) == ["0000:03:00.0"])
        #expect(crlf.requests.first?.source.line == 2)
    }

    @Test func commentOnACRLFLineDoesNotHideTheNextLine() {
        #expect(throws: ConfigError.self) {
            try FlavourConfig.parse(files: [("crlf.conf", "# lab devices\r\nbogus line\r\n")])
        }
    }
}
