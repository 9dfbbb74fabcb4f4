import FlavourCore
import Testing

@Suite struct RequestOptionsTests {
    @Test(arguments: [
        ("request vfio 0000:03:00.0", RequestOptions()),
        ("request vfio 0000:03:00.0 force", RequestOptions(force: true)),
        ("request vfio 0000:03:00.0 group", RequestOptions(group: true)),
        ("request vfio 0000:03:00.0 force group", RequestOptions(force: true, group: true)),
        ("request vfio pci:v00008086* group force  # both", RequestOptions(force: true, group: true)),
    ])
    func requestLineOptions(line: String, expected: RequestOptions) throws {
        let config = try FlavourConfig.parse(files: [("10-site.conf", line + "\n")])
        #expect(config.requests.count == 1)
        #expect(config.requests.first?.options == expected)
    }

    @Test func badOptionNamesFileAndLineAndKeepsNothing() {
        #expect {
            try FlavourConfig.parse(files: [("10-site.conf", "request vfio 0000:03:00.0\nrequest vfio 0000:04:00.0 forced\n")])
        } throws: { error in
            (error as? ConfigError)?.description == "10-site.conf:2: unknown request option 'forced' (expected force or group)"
        }
    }

    @Test func optionsSpellAsConfigWords() {
        #expect(RequestOptions(force: true, group: true).words == ["force", "group"])
        #expect(RequestOptions().words.isEmpty)
    }
}
