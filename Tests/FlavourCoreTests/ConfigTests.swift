import Testing
@testable import FlavourCore

@Suite struct ConfigTests {
    @Test func parsesEveryDirective() throws {
        let config = try FlavourConfig.parse(files: [
            ("10-site.conf", """
                # Mellanox VFs go to the migration-capable driver
                flavour vfio-plain - vfio_pci
                variant vfio vfio_pci:v000015B3d0000101E* mlx5_vfio_pci   # comment after
                deny vfio vfio_pci:v00001AF4d00001041* virtio-vfio-pci
                request vfio 0000:3B:00.*
                request vfio-plain pci:v000015B3d0000101E*
                """),
        ])
        #expect(config.flavour(named: "vfio-plain")?.aliasPrefix == nil)
        #expect(config.flavour(named: "vfio-plain")?.keyPrefix == "pci")
        #expect(config.variants.map(\.module.rawValue) == ["mlx5_vfio_pci"])
        #expect(config.variants[0].source.description == "10-site.conf:3")
        #expect(config.denies.map(\.module.rawValue) == ["virtio_vfio_pci"])
        #expect(config.requests.map(\.selector.description) == ["0000:3b:00.*", "pci:v000015B3d0000101E*"])
        #expect(config.aliasPrefixes == ["vfio_pci"])
    }

    /// `protect SELECTOR`: an address glob or a pci: pattern as `request` takes them, an
    /// interface name, or a MAC address (kept in lower case, as sysfs shows `address`).
    @Test func parsesProtectRules() throws {
        let config = try FlavourConfig.parse(files: [
            ("10-site.conf", """
                protect 0000:3B:00.*
                protect pci:v00008086d00001533*
                protect eno1
                protect 52:54:00:AB:cd:EF
                """),
        ])
        #expect(config.protections.map(\.selector) == [
            .device(.address("0000:3b:00.*")), .device(DeviceSelector("pci:v00008086d00001533*")!), .interface("eno1"),
            .mac("52:54:00:ab:cd:ef"),
        ])
        #expect(config.protections[2].description == "protect eno1 (10-site.conf:3)")
    }

    @Test(arguments: [
        ("0000:3b:00.0", [], true), ("0000:3b:00.1", [], false),
        ("eno1", [("eno1", "52:54:00:ab:cd:ef")], true), ("eno1", [("eno2", nil)], false),
        ("52:54:00:AB:CD:EF", [("eno1", "52:54:00:ab:cd:ef")], true), ("52:54:00:ab:cd:ee", [("eno1", "52:54:00:ab:cd:ef")], false),
    ] as [(String, [(String, String?)], Bool)])
    func protectSelectorsMatch(selector: String, interfaces: [(String, String?)], expected: Bool) throws {
        let rule = try #require(ProtectSelector(selector))
        #expect(rule.matches(address: try PCIAddress(parsing: "0000:3b:00.0"), modalias: nil, interfaces: interfaces.map { ($0.0, $0.1) }) == expected)
    }

    @Test func rulesMayNameFlavoursDefinedInALaterFile() throws {
        let config = try FlavourConfig.parse(files: [
            ("10-a.conf", "request later 0000:00:01.0"),
            ("20-b.conf", "flavour later vfio_pci vfio_pci"),
        ])
        #expect(config.requests.count == 1)
    }

    @Test(arguments: [
        ("frobnicate x", 1, "unknown directive 'frobnicate'"),
        ("variant vfio vfio_pci:v*", 1, "'variant' takes 3 arguments"),
        ("variant nosuch vfio_pci:v* m", 1, "unknown flavour 'nosuch'"),
        ("variant vfio pci:v00001AF4* m", 1, "must start with 'vfio_pci:'"),
        ("deny vfio nocolon m", 1, "is not an alias pattern"),
        ("variant vfio vfio_pci:v* bad/module", 1, "is not a module name"),
        ("flavour vfio vfio_pci vfio_pci", 1, "already defined"),
        ("flavour none - vfio_pci", 1, "'none' is not a flavour"),
        ("flavour UPPER - vfio_pci", 1, "is not a flavour name"),
        ("flavour x bad/prefix vfio_pci", 1, "is not an alias prefix"),
        ("request vfio /etc/passwd", 1, "is not a selector"),
        ("request vfio 0000:00:01.0 extra", 1, "unknown request option 'extra' (expected force or group)"),
        ("request vfio", 1, "'request' takes 2 arguments and options"),
        ("request vfio 0000:00:01.0 force force", 1, "request option 'force' is given twice"),
        ("request vfio 0000:00:01.0 group FORCE", 1, "unknown request option 'FORCE'"),
        ("\n\n   frob", 3, "unknown directive"),
    ])
    func malformedLinesNameFileAndLine(text: String, line: Int, message: String) {
        do {
            _ = try FlavourConfig.parse(files: [("bad.conf", text)])
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems[0].file == "bad.conf")
            #expect(error.problems[0].line == line)
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test func reportsEveryBadLineAtOnce() {
        #expect(throws: ConfigError.self) { try FlavourConfig.parse(files: [("a.conf", "x\ny\n"), ("b.conf", "z")]) }
        do { _ = try FlavourConfig.parse(files: [("a.conf", "x\ny\n"), ("b.conf", "z")]) } catch {
            #expect(error.problems.map { String($0.description.prefix(7)) } == ["a.conf:", "a.conf:", "b.conf:"])
        }
    }
}

@Suite struct UeventRequestTests {
    static let address = try! PCIAddress(parsing: "0000:03:00.0")

    /// The kernel's `add` is acted on ahead of udevd only as a plain hotplug; one that carries a
    /// request waits for udevd's copy, and every property it tests for is one the monitor copies.
    @Test func kernelAddsActedOnAreThePlainOnes() {
        #expect(UeventRequest.actsOnKernelAdd(["MODALIAS": "pci:v00001AF4d00001041sv*"]))
        #expect(UeventRequest.actsOnKernelAdd([:]))
        #expect(!UeventRequest.actsOnKernelAdd(["SYNTH_ARG_DRIVERFLAVOUR": "vfio", "SYNTH_UUID": "x"]))
        #expect(!UeventRequest.actsOnKernelAdd(["DRIVER_FLAVOUR": "vfio"]))
        #expect(UeventRequest.kernelAddKeys.isSuperset(of: [UeventRequest.attributeKey, UeventRequest.syntheticKey, "MODALIAS"]))
    }

    @Test(arguments: [
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "vfio"], UeventRequest.flavour(address, value: "vfio", origin: .attribute)),
        ("change", "0000:03:00.0", ["SYNTH_ARG_DRIVERFLAVOUR": "vfio", "SYNTH_UUID": "x"], .flavour(address, value: "vfio", origin: .synthetic)),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "none"], .flavour(address, value: "none", origin: .attribute)),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": ""], .flavour(address, value: "", origin: .attribute)),
        ("change", "0000:03:00.0", [:], .changed(address)),
        ("bind", "0000:03:00.0", ["DRIVER": "vfio-pci"], .ignored),
        ("unbind", "0000:03:00.0", [:], .ignored),
        ("add", "0000:03:00.0", ["MODALIAS": "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00"],
         .added(address, modalias: try! Modalias(parsing: "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00"))),
        ("add", "0000:03:00.0", ["MODALIAS": "garbage"], .added(address, modalias: nil)),
        ("remove", "0000:03:00.0", [:], .removed(address)),
        ("add", "0000:03:00.0", ["DRIVER_FLAVOUR": "vfio", "MODALIAS": "x"], .flavour(address, value: "vfio", origin: .attribute)),
        ("change", "../../etc", ["DRIVER_FLAVOUR": "vfio"], .invalid("device name '../../etc' is not a PCI address")),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "vfio;rm -rf"], .invalid("flavour value 'vfio;rm -rf' is not 1 to 32 of a-z, 0-9, '_', '-'")),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "VFIO"], .invalid("flavour value 'VFIO' is not 1 to 32 of a-z, 0-9, '_', '-'")),
    ])
    func readsUevents(action: String, name: String, properties: [String: String], expected: UeventRequest) {
        #expect(UeventRequest(action: action, sysName: name, properties: properties) == expected)
    }

    @Test func theAttributeKeyWinsOverTheSyntheticOne() {
        let request = UeventRequest(action: "change", sysName: "0000:03:00.0", properties: ["DRIVER_FLAVOUR": "vfio", "SYNTH_ARG_DRIVERFLAVOUR": "none"])
        #expect(request == .flavour(Self.address, value: "vfio", origin: .attribute))
    }

    /// A name or value of one letter and 1,000 combining marks is one Character, so a
    /// Character prefix let it all into the logged message (the property Tests/Fuzz/uevent checks).
    @Test func invalidMessagesStayShortWhateverTheInput() {
        let long = "x" + String(repeating: "\u{301}", count: 1000)
        for request in [
            UeventRequest(action: "change", sysName: long, properties: [:]),
            UeventRequest(action: "change", sysName: "0000:03:00.0", properties: ["DRIVER_FLAVOUR": long]),
        ] {
            guard case .invalid(let message) = request else { Issue.record("not invalid: \(request)"); continue }
            #expect(message.unicodeScalars.count <= 200)
        }
    }
}

@Suite struct SRIOVLayoutTests {
    static let layout = SRIOVLayout(
        physicalFunction: try! PCIAddress(parsing: "0000:01:00.0"), totalVFs: 32, offset: 256, stride: 1,
        vfModalias: try! Modalias(parsing: "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02"))

    @Test func vfAddressesFollowOffsetAndStride() {
        #expect(Self.layout.vfAddress(0)?.description == "0000:02:00.0")
        #expect(Self.layout.vfAddress(9)?.description == "0000:02:01.1")
        #expect(SRIOVLayout(physicalFunction: try! PCIAddress(parsing: "0000:3b:00.0"), totalVFs: 4, offset: 2, stride: 2,
                            vfModalias: Self.layout.vfModalias).vfAddress(1)?.description == "0000:3b:00.4")
    }

    @Test func findsRequestsThatCoverFutureVFs() throws {
        let config = try FlavourConfig.parse(files: [("r.conf", """
            request vfio 0000:02:00.*
            request vfio 0000:05:00.*
            request vfio pci:v00001B36d00000010*
            request vfio pci:v00008086*
            """)])
        #expect(Self.layout.requests(covering: config.requests).map(\.source.line) == [1, 3])
    }

    @Test(arguments: [
        ("request vfio 0000:02:00.*", false),  // 8 of 32
        ("request vfio 0000:02:0[0-3].*", true),
        ("request vfio 0000:02:00.*\nrequest vfio 0000:02:01.*\nrequest vfio 0000:02:02.*\nrequest vfio 0000:02:03.*", true),
        ("request vfio pci:v00001B36d00000010*", true),
        ("request vfio pci:v00008086*", false),
    ])
    func autoprobeMayGoOffOnlyWhenEveryVFIsCovered(requests: String, expected: Bool) throws {
        let config = try FlavourConfig.parse(files: [("r.conf", requests)])
        #expect(Self.layout.everyVFCovered(by: config.requests) == expected)
    }
}
