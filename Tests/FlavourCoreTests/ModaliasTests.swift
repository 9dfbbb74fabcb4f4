import Testing
@testable import FlavourCore

@Suite struct ModaliasTests {
    @Test func parsesVirtioNet() throws {
        let modalias = try Modalias(parsing: "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00\n")
        #expect(modalias.vendor == 0x1AF4)
        #expect(modalias.device == 0x1041)
        #expect(modalias.subsystemDevice == 0x1100)
        #expect(modalias.baseClass == 0x02)
        #expect(modalias.pciID == "1af4:1041")
        #expect(modalias.description == "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00")
        #expect(modalias.key(prefix: "vfio_pci") == "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00")
    }

    @Test(arguments: [
        "", "pci:", "usb:v1D6Bp0002d0510dc09dsc00dp03ic09isc00ip00in00",
        "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00",
        "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00x",
        "pci:v1AF4d1041sv1AF4sd1100bc02sc00i00",
        "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00",
    ])
    func refusesMalformed(input: String) {
        #expect(throws: ModaliasError(input: input)) { try Modalias(parsing: input) }
    }
}
