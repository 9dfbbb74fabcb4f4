import Testing
@testable import FlavourCore

@Suite struct CandidatePlanTests {
    static let kernelAliases = """
        alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci
        alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci
        alias vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i* virtio_vfio_pci
        alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci
        alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* other_mlx_vfio_pci
        alias pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_pci
        """
    static let virtioNet = try! Modalias(parsing: "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00")
    static let connectX = try! Modalias(parsing: "pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00")
    static let e1000e = try! Modalias(parsing: "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00")

    static func table(_ config: FlavourConfig, kernel: String = kernelAliases) -> MatchTable {
        var table = MatchTable(entries: config.variants)
        for entry in ModulesAliasParser.parse(Array(kernel.utf8), file: "modules.alias", prefixes: config.aliasPrefixes.union(["pci"])).entries {
            table.insert(entry)
        }
        return table
    }

    static func plan(_ modalias: Modalias, config: String = "", flavour: String = "vfio") throws -> CandidatePlan {
        let config = try FlavourConfig.parse(files: [("site.conf", config)])
        return CandidatePlan(flavour: config.flavour(named: flavour)!, modalias: modalias, table: table(config), config: config)
    }

    @Test func variantBeforeTheUniversalDriver() throws {
        let plan = try Self.plan(Self.virtioNet)
        #expect(plan.candidates.map(\.module.rawValue) == ["virtio_vfio_pci", "vfio_pci"])
        #expect(plan.candidates[0].wildcards == 5)
        #expect(plan.candidates[0].source.description == "modules.alias:2")
        #expect(plan.candidates[1].isUniversal)
        #expect(plan.key == "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00")
    }

    @Test func noVariantMeansTheUniversalDriverAlone() throws {
        #expect(try Self.plan(Self.e1000e).candidates.map(\.module.rawValue) == ["vfio_pci"])
    }

    @Test func equalSpecificityKeepsFileOrder() throws {
        #expect(try Self.plan(Self.connectX).candidates.map(\.module.rawValue) == ["mlx5_vfio_pci", "other_mlx_vfio_pci", "vfio_pci"])
    }

    @Test func adminRuleWinsATieWithTheKernel() throws {
        let plan = try Self.plan(Self.connectX, config: "variant vfio vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* site_vfio_pci")
        #expect(plan.candidates.map(\.module.rawValue) == ["site_vfio_pci", "mlx5_vfio_pci", "other_mlx_vfio_pci", "vfio_pci"])
        #expect(plan.candidates[0].source.kind == .admin)
    }

    /// Specificity is the wildcard count, as the override_only commit and libvirt define it:
    /// `v000015B3*` has one wildcard and so ranks before a pattern with three.
    @Test func wildcardCountDecidesNotPatternLength() throws {
        let plan = try Self.plan(Self.connectX, config: """
            variant vfio vfio_pci:v000015B3d0000101Esv000015B3sd00000001bc*sc*i* exact_vfio_pci
            variant vfio vfio_pci:v000015B3* broad_vfio_pci
            """)
        #expect(plan.candidates.map(\.module.rawValue) == ["broad_vfio_pci", "exact_vfio_pci", "mlx5_vfio_pci", "other_mlx_vfio_pci", "vfio_pci"])
        #expect(plan.candidates.map(\.wildcards) == [1, 3, 5, 5, 7])
    }

    @Test func deniedModulesNeverAppear() throws {
        let plan = try Self.plan(Self.virtioNet, config: "deny vfio vfio_pci:v00001AF4* virtio_vfio_pci")
        #expect(plan.candidates.map(\.module.rawValue) == ["vfio_pci"])
        #expect(plan.denied.map(\.candidate.module.rawValue) == ["virtio_vfio_pci"])
        #expect(plan.denied[0].rule.source.description == "site.conf:1")
    }

    @Test func denyOnlyAppliesToDevicesItsPatternMatches() throws {
        let plan = try Self.plan(Self.virtioNet, config: "deny vfio vfio_pci:v000015B3* virtio_vfio_pci")
        #expect(plan.candidates.map(\.module.rawValue) == ["virtio_vfio_pci", "vfio_pci"])
    }

    @Test func theUniversalModuleIsPresentEvenWithoutItsAlias() throws {
        let config = FlavourConfig()
        let table = Self.table(config, kernel: "alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci")
        let plan = CandidatePlan(flavour: .vfio, modalias: Self.e1000e, table: table, config: config)
        #expect(plan.candidates.map(\.module.rawValue) == ["vfio_pci"])
        #expect(plan.candidates[0].alias == nil)
    }

    @Test func aFlavourWithoutPrefixMatchesThePlainModalias() throws {
        let plan = try Self.plan(Self.virtioNet, config: """
            flavour plain - vfio_pci
            variant plain pci:v00001AF4d00001041* site_plain
            """, flavour: "plain")
        #expect(plan.key.hasPrefix("pci:"))
        // virtio_pci's own `pci:` alias matches too, but kernel aliases are not a prefix-less flavour's.
        #expect(plan.candidates.map(\.module.rawValue) == ["site_plain", "vfio_pci"])
    }

    /// A variant line is its own flavour's: two flavours sharing a prefix (or both without
    /// one) must not pick up each other's variants.
    @Test(arguments: [
        ("fast", ["site_fast", "vfio_pci"]), ("slow", ["site_slow", "vfio_pci"]), ("vfio", ["virtio_vfio_pci", "vfio_pci"]),
    ])
    func variantsStayWithTheirFlavour(flavour: String, expected: [String]) throws {
        let config = """
            flavour fast vfio_pci vfio_pci
            flavour slow vfio_pci vfio_pci
            variant fast vfio_pci:v00001AF4d00001041* site_fast
            variant slow vfio_pci:v00001AF4d00001041* site_slow
            deny fast vfio_pci:v00001AF4d00001041* virtio_vfio_pci
            deny slow vfio_pci:v00001AF4d00001041* virtio_vfio_pci
            """
        #expect(try Self.plan(Self.virtioNet, config: config, flavour: flavour).candidates.map(\.module.rawValue) == expected)
    }

    @Test func prefixLessFlavoursKeepTheirOwnVariants() throws {
        let config = """
            flavour one - vfio_pci
            flavour two - vfio_pci
            variant one pci:v00001AF4d00001041* site_one
            variant two pci:v00001AF4d00001041* site_two
            """
        #expect(try Self.plan(Self.virtioNet, config: config, flavour: "one").candidates.map(\.module.rawValue) == ["site_one", "vfio_pci"])
        #expect(try Self.plan(Self.virtioNet, config: config, flavour: "two").candidates.map(\.module.rawValue) == ["site_two", "vfio_pci"])
    }
}
