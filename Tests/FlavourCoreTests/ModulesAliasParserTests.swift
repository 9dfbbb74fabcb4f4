import Foundation
import Testing
@testable import FlavourCore

@Suite struct ModulesAliasParserTests {
    /// Lines as depmod writes them in Debian's 6.12 tree (first three), plus made-up variants.
    static let text = """
        # Aliases extracted from modules themselves.
        alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e
        alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci
        alias pci:v*d*sv*sd*bc01sc08i02* nvme
        alias usb:v1D6Bp0002d*dc*dsc*dp*ic*isc*ip*in* some_usb
        alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci
        alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5-vfio-pci

        alias broken
        alias vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i* not/a/module
        nonsense vfio_pci:v* x
        alias nocolon module
        """

    @Test func keepsOnlyWantedPrefixesAndNormalisesModules() {
        let result = ModulesAliasParser.parse(Array(Self.text.utf8), file: "modules.alias", prefixes: ["vfio_pci", "pci"])
        #expect(result.entries.map(\.module.rawValue) == ["e1000e", "vfio_pci", "nvme", "virtio_vfio_pci", "mlx5_vfio_pci"])
        #expect(result.entries.map(\.source.line) == [2, 3, 4, 6, 7])
        #expect(result.entries[3].source.description == "modules.alias:6")
    }

    @Test func malformedLinesAreWarningsNamingTheLine() {
        let result = ModulesAliasParser.parse(Array(Self.text.utf8), file: "modules.alias", prefixes: ["vfio_pci", "pci"])
        #expect(result.warnings.map(\.line) == [9, 10, 11])  // line 12, without a prefix, is valid
        #expect(result.warnings[0].description == "modules.alias:9: expected 'alias PATTERN MODULE', skipped: alias broken")
        #expect(result.warnings[1].message.contains("not/a/module"))
    }

    @Test func withoutAFilterKeepsEveryPrefix() {
        let result = ModulesAliasParser.parse(Array(Self.text.utf8), file: "m", prefixes: nil)
        #expect(result.entries.contains { $0.pattern.prefix == "usb" })
    }

    @Test func survivesBinaryGarbage() {
        var bytes: [UInt8] = []
        var generator = SeededGenerator()
        for _ in 0..<20_000 { bytes.append(UInt8.random(in: 0...255, using: &generator)) }
        let result = ModulesAliasParser.parse(bytes, file: "garbage", prefixes: nil)
        #expect(result.entries.count + result.warnings.count >= 0)
    }
}

@Suite struct KmodIndexTests {
    static func fixture() throws -> [UInt8] {
        // Made by make-builtin-alias-bin with the real depmod.
        let url = try #require(Bundle.module.url(forResource: "Fixtures/modules.builtin.alias.bin", withExtension: nil))
        return Array(try Data(contentsOf: url))
    }

    @Test func readsEveryRecordOfDepmodsIndex() throws {
        let records = try KmodIndex.records(try Self.fixture(), file: "modules.builtin.alias.bin")
        #expect(Set(records.map { "\($0.key) \($0.value)" }) == [
            "vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci",
            "vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci",
            "vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i* virtio_vfio_pci",
            "pci:v*d*sv*sd*bc01sc08i02* nvme",
            "crct10dif crct10dif_generic",
        ])
    }

    @Test func buildsBuiltinEntries() throws {
        let (entries, warnings) = try KmodIndex.aliasEntries(try Self.fixture(), file: "modules.builtin.alias.bin", prefixes: ["vfio_pci"])
        #expect(warnings.isEmpty)
        #expect(entries.count == 3)
        #expect(entries.allSatisfy { $0.source.kind == .builtinAlias })
    }

    @Test func refusesWhatIsNotAnIndex() throws {
        #expect(throws: KmodIndex.FormatError.self) { try KmodIndex.records(Array("alias x y\n".utf8), file: "f") }
        var truncated = try Self.fixture()
        truncated.removeLast(40)
        #expect(throws: KmodIndex.FormatError.self) { try KmodIndex.records(truncated, file: "f") }
    }

    /// A node that is its own child under a 2,000-byte prefix: the key grew by the prefix
    /// at every visit, a 2 KiB file took 3 GiB. Found by Tests/Fuzz/modules-alias.
    @Test func refusesANodeReachedTwice() {
        func index(_ node: [UInt8]) -> [UInt8] {
            let root: UInt32 = 12 | KmodIndex.flagPrefix | KmodIndex.flagChildren
            return [0xB0, 0x07, 0xF4, 0x57, 0, 2, 0, 1] + bigEndian(root) + node
        }
        func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
        let root: UInt32 = 12 | KmodIndex.flagPrefix | KmodIndex.flagChildren
        let selfLoop = index(Array(repeating: UInt8(ascii: "A"), count: 2000) + [0, UInt8(ascii: "a"), UInt8(ascii: "a")] + bigEndian(root))
        #expect(throws: KmodIndex.FormatError.self) { try KmodIndex.records(selfLoop, file: "f") }
        // Two children sharing one leaf: depmod never writes that either.
        let leaf: UInt32 = 12 + 2 + 2 + 8
        let shared = index([UInt8(ascii: "k"), 0, UInt8(ascii: "a"), UInt8(ascii: "b")]
            + bigEndian(leaf | KmodIndex.flagValues) + bigEndian(leaf | KmodIndex.flagValues)
            + bigEndian(1) + bigEndian(0) + Array("mod".utf8) + [0])
        #expect(throws: KmodIndex.FormatError.self) { try KmodIndex.records(shared, file: "f") }
    }

    @Test func survivesCorruption() throws {
        let original = try Self.fixture()
        var generator = SeededGenerator()
        for _ in 0..<2000 {
            var bytes = original
            for _ in 0..<3 { bytes[Int.random(in: 12..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = try? KmodIndex.records(bytes, file: "f")  // must return or throw, never trap or hang
        }
    }
}

@Suite struct BuiltinAliasWithoutPrefixTests {
    /// depmod's builtin index holds crypto and fs aliases (`crct10dif`) with no `prefix:`:
    /// valid lines, skipped without a warning.
    @Test func aliasesWithoutAPrefixAreSkippedSilently() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/modules.builtin.alias.bin", withExtension: nil))
        let (entries, warnings) = try KmodIndex.aliasEntries(Array(try Data(contentsOf: url)), file: "f", prefixes: nil)
        #expect(warnings.isEmpty)
        #expect(entries.count == 4)
    }
}
