import Testing
@testable import FlavourCore

@Suite struct AliasPatternTests {
    static let virtioNet = try! Modalias(parsing: "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00")

    @Test func kernelShapedPatternsUseTheFieldMatcher() throws {
        let pattern = try #require(AliasPattern("vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*"))
        #expect(pattern.prefix == "vfio_pci")
        #expect(pattern.fields != nil)
        #expect(pattern.wildcards == 5)
        let trailing = try #require(AliasPattern("pci:v*d*sv*sd*bc01sc08i02*"))
        #expect(trailing.fields != nil)
    }

    @Test(arguments: ["pci:v00001af4d*sv*sd*bc*sc*i*", "pci:v0000?AF4*", "pci:v*", "pci:v00001AF4d00001041"])
    func otherPatternsUseGlob(text: String) throws {
        #expect(try #require(AliasPattern(text)).fields == nil)
    }

    @Test(arguments: ["no-colon", ":v*", "acpi*:PNP0A03:*"])
    func refusesPatternsWithoutALiteralPrefix(text: String) {
        #expect(AliasPattern(text) == nil)
    }

    /// The field matcher must give fnmatch's answer for every pattern of the kernel's shape.
    @Test func fieldMatcherAgreesWithGlob() {
        var generator = SeededGenerator()
        let vendors: [UInt32] = [0x1AF4, 0x8086, 0x15B3]
        let devices: [UInt32] = [0x1041, 0x10D3, 0x101E]
        for _ in 0..<3000 {
            let m = Modalias(
                vendor: vendors.randomElement(using: &generator)!, device: devices.randomElement(using: &generator)!,
                subsystemVendor: vendors.randomElement(using: &generator)!, subsystemDevice: 0x1100,
                baseClass: [0x01, 0x02].randomElement(using: &generator)!, subClass: 0, interface: [0, 2].randomElement(using: &generator)!)
            func field(_ tag: String, _ value: UInt32, _ width: Int) -> String {
                Bool.random(using: &generator) ? tag + "*" : tag + Hex.format(value, width: width, uppercase: true)
            }
            let body = field("v", vendors.randomElement(using: &generator)!, 8) + field("d", devices.randomElement(using: &generator)!, 8)
                + field("sv", vendors.randomElement(using: &generator)!, 8) + field("sd", 0x1100, 8)
                + field("bc", [1, 2].randomElement(using: &generator)!, 2) + field("sc", 0, 2)
                + field("i", [0, 2].randomElement(using: &generator)!, 2) + (Bool.random(using: &generator) ? "*" : "")
            let pattern = AliasPattern("pci:" + body)!
            #expect(pattern.fields != nil)
            #expect(pattern.matches(m) == Glob.matches(pattern: pattern.text, text: m.description), "\(pattern) vs \(m), seed \(generator.seed)")
        }
    }

    @Test func matchesTheDeviceUnderItsPrefix() throws {
        #expect(try #require(AliasPattern("vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*")).matches(Self.virtioNet))
        #expect(try #require(AliasPattern("vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i*")).matches(Self.virtioNet) == false)
        #expect(try #require(AliasPattern("vfio_pci:v00001AF4*")).matches(Self.virtioNet))
    }
}
