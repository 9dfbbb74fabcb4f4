import Testing
@testable import FlavourCore

@Suite struct PCIAddressTests {
    @Test(arguments: [
        ("0000:03:00.0", "0000:03:00.0"),
        ("0000:3B:00.7", "0000:3b:00.7"),
        ("10000:e1:1f.1", "10000:e1:1f.1"),  // VMD domains print five digits
        ("ffff:ff:1f.7", "ffff:ff:1f.7"),
    ])
    func parsesKernelSpelling(input: String, printed: String) throws {
        #expect(try PCIAddress(parsing: input).description == printed)
    }

    @Test(arguments: [
        "", "0000:03:00", "03:00.0", "0000:03:00.8", "0000:03:20.0", "0000:03:00.0\n",
        "../../../etc", "0000:03:00.0/../..", "0000:03:00.0 ", "000g:03:00.0", "0000-03-00.0",
        "0000:03:00.10", "000000000:03:00.0", "0000:3:00.0", "0000:03:00.-1",
    ])
    func refusesAnythingElse(input: String) {
        #expect(throws: PCIAddressError(input: input)) { try PCIAddress(parsing: input) }
    }

    @Test func errorSaysWhatToDo() {
        let error = PCIAddressError(input: "../x")
        #expect(error.description.contains("DDDD:BB:DD.F"))
        #expect(error.description.contains("../x"))
    }

    @Test func sortsByDomainBusDeviceFunction() throws {
        let addresses = try ["0000:03:00.1", "0000:00:1f.0", "0001:00:00.0", "0000:03:00.0"].map {
            try PCIAddress(parsing: $0)
        }
        #expect(addresses.sorted().map(\.description) == ["0000:00:1f.0", "0000:03:00.0", "0000:03:00.1", "0001:00:00.0"])
    }
}
