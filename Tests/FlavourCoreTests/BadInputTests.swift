import Testing
@testable import FlavourCore

/// The rows of docs/bad-input.md that the parsers answer on their own and no other test
/// covers. Each case is one row of that table; keep the two in step.
@Suite struct BadPCIAddressTests {
    @Test(arguments: [
        "0000:03:00.0\u{0}", "0000:03\u{0}00.0", "\u{0}0000:03:00.0",  // NUL anywhere
        " 0000:03:00.0", "0000:03:00.0 ", "0000: 03:00.0", "0000:03:00.0\t",  // spaces
        "../0000:03:00.0", "0000:03:00.0/..", "..", "./0000:03:00.0",  // path pieces
        "123456789:03:00.0", "ffffffff0:00:00.0",  // domain longer than 8 digits
        "000:03:00.0",  // domain shorter than 4
        "0000:03:00.0\n", "0000:03:00.٠", "0000:03:00.０", "0x00:03:00.0", "+000:03:00.0",
    ])
    func refused(input: String) {
        #expect(throws: PCIAddressError(input: input)) { try PCIAddress(parsing: input) }
    }

    /// The error puts the input between quotes with control characters escaped: a NUL or a
    /// newline in an argument never reaches the terminal or the log raw.
    @Test(arguments: ["0000:03:00.0\u{0}", "0000:03:00.0\n", "a\u{1b}[2Jb"])
    func errorEscapesControlCharacters(input: String) {
        let text = PCIAddressError(input: input).description
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 }, "\(text.debugDescription)")
        #expect(text.hasSuffix("is not a PCI address: expected DDDD:BB:DD.F, for example 0000:03:00.0 (see lspci -D)"))
    }

    @Test(arguments: [
        ("0000:3B:0A.7", "0000:3b:0a.7"), ("ABCD:EF:1F.0", "abcd:ef:1f.0"), ("FFFFFFFF:00:00.0", "ffffffff:00:00.0"),
        ("0000:3b:00.0", "0000:3b:00.0"),
    ])
    func upperCaseIsAcceptedAndPrintedLowerCase(input: String, printed: String) throws {
        #expect(try PCIAddress(parsing: input).description == printed)
    }
}

@Suite struct BadUeventTests {
    static let address = try! PCIAddress(parsing: "0000:03:00.0")
    static let thirtyTwo = String(repeating: "a", count: 32)
    static let thirtyThree = String(repeating: "a", count: 33)

    static func invalidValue(_ value: String) -> UeventRequest {
        .invalid("flavour value '\(value)' is not 1 to 32 of a-z, 0-9, '_', '-'")
    }

    @Test(arguments: [
        // Device names that are not addresses, whatever the action that matters.
        ("change", "card0", ["DRIVER_FLAVOUR": "vfio"], UeventRequest.invalid("device name 'card0' is not a PCI address")),
        ("add", "0000:03:00.0/..", [:], .invalid("device name '0000:03:00.0/..' is not a PCI address")),
        ("remove", "", [:], .invalid("device name '' is not a PCI address")),
        ("change", "0000:03:00.0\u{0}", ["DRIVER_FLAVOUR": "vfio"], .invalid("device name '0000:03:00.0\u{0}' is not a PCI address")),
        // ... but an action the daemon ignores is ignored before the name is read.
        ("bind", "card0", ["DRIVER": "x"], .ignored),
        // Flavour values.
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "vfio;reboot"], invalidValue("vfio;reboot")),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "Vfio"], invalidValue("Vfio")),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": thirtyThree], invalidValue(thirtyThree)),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": thirtyTwo], .flavour(address, value: thirtyTwo, origin: .attribute)),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "vfio pci"], invalidValue("vfio pci")),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "vfio\n"], invalidValue("vfio\n")),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "vfio\u{0}"], invalidValue("vfio\u{0}")),
        ("change", "0000:03:00.0", ["SYNTH_ARG_DRIVERFLAVOUR": "vfio;x"], invalidValue("vfio;x")),
        ("add", "0000:03:00.0", ["DRIVER_FLAVOUR": "VFIO"], invalidValue("VFIO")),
        // Empty means revert, from either key.
        ("change", "0000:03:00.0", ["SYNTH_ARG_DRIVERFLAVOUR": ""], .flavour(address, value: "", origin: .synthetic)),
        // Both keys: the attribute's wins, even when the synthetic one is the valid one.
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "VFIO", "SYNTH_ARG_DRIVERFLAVOUR": "vfio"], invalidValue("VFIO")),
        ("change", "0000:03:00.0", ["DRIVER_FLAVOUR": "", "SYNTH_ARG_DRIVERFLAVOUR": "vfio"], .flavour(address, value: "", origin: .attribute)),
        // Other keys that look alike are not requests.
        ("change", "0000:03:00.0", ["driver_flavour": "vfio", "DRIVERFLAVOUR": "vfio", "SYNTH_ARG_DRIVER_FLAVOUR": "vfio"], .changed(address)),
    ])
    func reads(action: String, name: String, properties: [String: String], expected: UeventRequest) {
        #expect(UeventRequest(action: action, sysName: name, properties: properties) == expected)
    }

    @Test(arguments: [
        ("a", true), ("none", true), ("vfio-pci_2", true), (thirtyTwo, true),
        ("", false), (thirtyThree, false), ("VFIO", false), ("vfio;x", false), ("vfio.pci", false), ("é", false), ("-", true),
    ])
    func flavourNameRule(name: String, valid: Bool) {
        #expect(Flavour.isValidName(name) == valid)
    }
}

@Suite struct BadConfigLineTests {
    static func problem(_ text: String, file: String = "bad.conf") -> ConfigError.Problem? {
        do {
            _ = try FlavourConfig.parse(files: [(file, text)])
            return nil
        } catch {
            #expect(error.problems.count == 1, "\(error.description)")
            return error.problems.first
        }
    }

    static let longModule = String(repeating: "m", count: 56)
    static let longFlavour = String(repeating: "f", count: 33)

    /// Rows not in ConfigTests.malformedLinesNameFileAndLine: each line is refused alone,
    /// naming file and line, with this exact message.
    @Test(arguments: [
        ("flavour x vfio_pci", "'flavour' takes 3 arguments: flavour NAME PREFIX UNIVERSAL_MODULE (got 2)"),
        ("flavour x vfio_pci vfio_pci extra", "'flavour' takes 3 arguments: flavour NAME PREFIX UNIVERSAL_MODULE (got 4)"),
        ("deny vfio vfio_pci:v*", "'deny' takes 3 arguments: deny FLAVOUR ALIAS_PATTERN MODULE (got 2)"),
        ("variant vfio vfio_pci:v* a b", "'variant' takes 3 arguments: variant FLAVOUR ALIAS_PATTERN MODULE (got 4)"),
        ("request", "'request' takes 2 arguments and options: request FLAVOUR SELECTOR [force] [group] (got 0)"),
        ("Flavour x - vfio_pci", "unknown directive 'Flavour' (expected flavour, variant, deny, request, protect, metrics-dir or node-labels-dir)"),
        ("request none 0000:03:00.0", "'none' is not a flavour: it means the kernel's default driver"),
        ("variant none pci:v* vfio_pci", "'none' is not a flavour: it means the kernel's default driver"),
        ("flavour - - vfio_pci", "'-' is not a flavour: names starting with '-' are reserved (written to driver_flavour, '-NAME' clears the attribute if it holds NAME)"),
        ("request - 0000:03:00.0", "'-' is not a flavour: names starting with '-' are reserved (written to driver_flavour, '-NAME' clears the attribute if it holds NAME)"),
        ("flavour -lab - vfio_pci", "'-lab' is not a flavour: names starting with '-' are reserved (written to driver_flavour, '-NAME' clears the attribute if it holds NAME)"),
        ("request -vfio 0000:03:00.0", "'-vfio' is not a flavour: names starting with '-' are reserved (written to driver_flavour, '-NAME' clears the attribute if it holds NAME)"),
        ("variant -vfio vfio_pci:v* vfio_pci", "'-vfio' is not a flavour: names starting with '-' are reserved (written to driver_flavour, '-NAME' clears the attribute if it holds NAME)"),
        ("deny --x vfio_pci:v* vfio_pci", "'--x' is not a flavour: names starting with '-' are reserved (written to driver_flavour, '-NAME' clears the attribute if it holds NAME)"),
        ("request nosuch 0000:03:00.0", "unknown flavour 'nosuch' (known: vfio); define it with 'flavour NAME PREFIX MODULE'"),
        ("deny nosuch vfio_pci:v* m", "unknown flavour 'nosuch' (known: vfio); define it with 'flavour NAME PREFIX MODULE'"),
        ("flavour \(longFlavour) - vfio_pci", "'\(longFlavour)' is not a flavour name: use 1 to 32 of a-z, 0-9, '_', '-'"),
        ("variant vfio v00001AF4* m", "'v00001AF4*' is not an alias pattern: expected PREFIX:GLOB, e.g. vfio_pci:v000015B3d0000101E*"),
        ("variant vfio :v00001AF4* m", "':v00001AF4*' is not an alias pattern: expected PREFIX:GLOB, e.g. vfio_pci:v000015B3d0000101E*"),
        ("deny vfio pci:v00001AF4* m", "pattern 'pci:v00001AF4*' must start with 'vfio_pci:', the alias prefix of flavour 'vfio'"),
        ("variant vfio usb:v1D6B* m", "pattern 'usb:v1D6B*' must start with 'vfio_pci:', the alias prefix of flavour 'vfio'"),
        ("variant vfio vfio_pci:v* \(longModule)", "'\(longModule)' is not a module name: use letters, digits, '_' and '-'"),
        ("variant vfio vfio_pci:v* mod.ko", "'mod.ko' is not a module name: use letters, digits, '_' and '-'"),
        ("flavour x - ../vfio_pci", "'../vfio_pci' is not a module name: use letters, digits, '_' and '-'"),
        ("request vfio 0000:03:00.0/..", "'0000:03:00.0/..' is not a selector: use a PCI address glob (0000:3b:00.*) or a pci: modalias pattern (pci:v000015B3d0000101E*)"),
        ("request vfio 000003000", "'000003000' is not a selector: use a PCI address glob (0000:3b:00.*) or a pci: modalias pattern (pci:v000015B3d0000101E*)"),
        ("request vfio vfio_pci:v*", "'vfio_pci:v*' is not a selector: use a PCI address glob (0000:3b:00.*) or a pci: modalias pattern (pci:v000015B3d0000101E*)"),
        ("request vfio 0000:03:00.0 group group", "request option 'group' is given twice"),
        ("request vfio 0000:03:00.0 --force", "unknown request option '--force' (expected force or group)"),
        ("variant vfio vfio_pci:v* vfio\u{FFFD}pci", "'vfio\u{FFFD}pci' is not a module name: use letters, digits, '_' and '-'"),
        ("protect", "'protect' takes 1 argument: protect SELECTOR (got 0)"),
        ("protect eno1 force", "'protect' takes 1 argument: protect SELECTOR (got 2)"),
        ("protect ../eno1", "'../eno1' is not a protect selector: use a PCI address glob (0000:3b:00.*), a pci: modalias pattern, a network interface name (eno1) or a MAC address (52:54:00:12:34:56)"),
        ("protect a-name-longer-than-15", "'a-name-longer-than-15' is not a protect selector: use a PCI address glob (0000:3b:00.*), a pci: modalias pattern, a network interface name (eno1) or a MAC address (52:54:00:12:34:56)"),
        ("protect 52:54:00:12:34", "'52:54:00:12:34' is not a protect selector: use a PCI address glob (0000:3b:00.*), a pci: modalias pattern, a network interface name (eno1) or a MAC address (52:54:00:12:34:56)"),
        ("protect vfio_pci:v*", "'vfio_pci:v*' is not a protect selector: use a PCI address glob (0000:3b:00.*), a pci: modalias pattern, a network interface name (eno1) or a MAC address (52:54:00:12:34:56)"),
        ("metrics-dir", "'metrics-dir' takes 1 argument: metrics-dir DIR (an absolute path, or '-' for none) (got 0)"),
        ("node-labels-dir /a /b", "'node-labels-dir' takes 1 argument: node-labels-dir DIR (an absolute path, or '-' for none) (got 2)"),
        ("metrics-dir var/lib/prometheus", "'var/lib/prometheus' is not a directory for metrics-dir: use an absolute path without '.' or '..', or '-' for none"),
        ("node-labels-dir /etc/../tmp", "'/etc/../tmp' is not a directory for node-labels-dir: use an absolute path without '.' or '..', or '-' for none"),
        ("metrics-dir /var//lib", "'/var//lib' is not a directory for metrics-dir: use an absolute path without '.' or '..', or '-' for none"),
    ])
    func refusedNamingFileAndLine(line: String, message: String) throws {
        let problem = try #require(Self.problem("# first line\n" + line + "\n"))
        #expect(problem.file == "bad.conf")
        #expect(problem.line == 2)
        #expect(problem.message == message)
    }

    /// Only a leading '-' is reserved (driver_flavour's compare-and-clear `-NAME`).
    @Test func dashInsideOrAtTheEndOfAFlavourNameIsAccepted() throws {
        let config = try FlavourConfig.parse(files: [("a.conf", "flavour my-lab - vfio_pci\nflavour lab- - vfio_pci\nrequest my-lab 0000:03:00.0\n")])
        #expect(config.flavours["my-lab"] != nil)
        #expect(config.flavours["lab-"] != nil)
    }

    @Test func duplicateFlavourAcrossFilesNamesBothPlaces() {
        do {
            _ = try FlavourConfig.parse(files: [("10-a.conf", "flavour lab - vfio_pci\n"), ("20-b.conf", "\nflavour lab - vfio_pci\n")])
            Issue.record("accepted a flavour defined twice")
        } catch {
            #expect(error.description == "20-b.conf:2: flavour 'lab' is already defined (10-a.conf:1); remove one definition")
        }
    }

    /// What the parser tolerates: these are not errors.
    @Test(arguments: [
        "flavour lab - vfio_pci\r\nrequest lab 0000:03:00.0\r\n",  // CRLF
        "# caf\u{FFFD} (a non-UTF-8 byte in a comment)\nflavour lab - vfio_pci\n",
        "\t flavour\tlab  -\tvfio_pci   # tabs and spaces\n",
        "request vfio 0000:3B:00.*\n",  // upper-case address glob, compared in lower case
    ])
    func tolerated(text: String) throws {
        _ = try FlavourConfig.parse(files: [("ok.conf", text)])
    }

    @Test func loneCRIsAWordSeparatorNotALineEnd() {
        // "flavour lab - vfio_pci\rrequest lab ..." is one line of seven words.
        #expect(Self.problem("flavour lab - vfio_pci\rrequest lab 0000:03:00.0")?.message
            == "'flavour' takes 3 arguments: flavour NAME PREFIX UNIVERSAL_MODULE (got 6)")
    }

    @Test func upperCaseAddressSelectorMatchesTheKernelsLowerCase() throws {
        let config = try FlavourConfig.parse(files: [("ok.conf", "request vfio 0000:3B:00.*\n")])
        #expect(config.requests[0].covers(address: try PCIAddress(parsing: "0000:3b:00.1"), modalias: nil))
    }
}

@Suite struct BadModulesAliasTests {
    static let longModule = String(repeating: "m", count: 56)

    /// One line each: skipped with this warning (nil: silently skipped, it is valid but not wanted).
    @Test(arguments: [
        ("alias", "expected 'alias PATTERN MODULE'"),
        ("alias pci:v*", "expected 'alias PATTERN MODULE'"),
        ("alias pci:v* mod extra", "expected 'alias PATTERN MODULE'"),
        ("Alias pci:v* mod", "expected 'alias PATTERN MODULE'"),
        ("softdep mod pre: other", "expected 'alias PATTERN MODULE'"),
        ("alias pci:v* not/a/module", "'not/a/module' is not a module name"),
        ("alias pci:v* \(longModule)", "'\(longModule)' is not a module name"),
        ("alias p*ci:v* mod", nil),  // not a wanted prefix: never looked at
        ("alias :v* mod", nil),  // empty prefix: not one of the wanted ones
        ("alias fs-xfs xfs", nil),  // no prefix: a valid alias, never a PCI one
        ("alias usb:v1D6B* some_usb", nil),  // a prefix nobody asked for
        ("   # indented comment", nil),
    ] as [(String, String?)])
    func lineIsSkipped(line: String, warning: String?) {
        let result = ModulesAliasParser.parse(Array((line + "\nalias pci:v00008086* e1000e\n").utf8), file: "m.alias", prefixes: ["pci"])
        #expect(result.entries.map(\.module.rawValue) == ["e1000e"])
        if let warning {
            #expect(result.warnings.count == 1)
            #expect(result.warnings.first?.description == "m.alias:1: \(warning), skipped: \(line)")
        } else {
            #expect(result.warnings.isEmpty, "\(result.warnings)")
        }
    }

    /// Without a prefix filter (flavourctl never reads that way; the fuzzer does) a prefix
    /// that is not a plain word is a warning.
    @Test func unfilteredPrefixThatIsNotAWordIsWarned() {
        let result = ModulesAliasParser.parse(Array("alias acpi*:PNP0A03:* acpi_mod\n".utf8), file: "m", prefixes: nil)
        #expect(result.entries.isEmpty)
        #expect(result.warnings.map(\.description) == ["m:1: alias prefix is not a plain word, skipped: alias acpi*:PNP0A03:* acpi_mod"])
    }

    @Test func crlfAndTabsAreSpace() {
        let result = ModulesAliasParser.parse(Array("alias\tpci:v00008086*\te1000e\r\n".utf8), file: "m", prefixes: ["pci"])
        #expect(result.entries.map(\.module.rawValue) == ["e1000e"])
        #expect(result.warnings.isEmpty)
    }

    @Test func nonUTF8BytesInAPatternAreKeptAsTheyAreOrWarned() {
        // 0xFF in the glob: the line is kept (the pattern simply never matches a modalias);
        // 0xFF in the module name: skipped with a warning.
        var bytes = Array("alias pci:v0000".utf8) + [0xFF] + Array("* m1\nalias pci:v* m".utf8) + [0xFF] + Array("\n".utf8)
        bytes += Array("alias pci:v* good\n".utf8)
        let result = ModulesAliasParser.parse(bytes, file: "m", prefixes: ["pci"])
        #expect(result.entries.map(\.module.rawValue) == ["m1", "good"])
        #expect(result.warnings.map(\.line) == [2])
    }
}

@Suite struct BadKmodIndexTests {
    static func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
    static let magic: [UInt8] = [0xB0, 0x07, 0xF4, 0x57]

    @Test(arguments: [
        ([], "offset 0 past the end"),
        ([0xB0, 0x07], "offset 0 past the end"),
        (Array("alias x y\n".utf8), "bad magic"),
        ([0x57, 0xF4, 0x07, 0xB0, 0, 2, 0, 1, 0, 0, 0, 12], "bad magic"),  // little-endian
        (magic + [0, 3, 0, 0] + bigEndian(12), "unsupported version 3"),
        (magic + [0, 2, 0, 1], "offset 8 past the end"),  // header cut before the root offset
        (magic + [0, 2, 0, 1] + bigEndian(12 | KmodIndex.flagPrefix), "unterminated string at 12"),
        (magic + [0, 2, 0, 1] + bigEndian(12 | KmodIndex.flagChildren) + [UInt8(ascii: "b"), UInt8(ascii: "a")], "child range 98>97 at 12"),
        (magic + [0, 2, 0, 1] + bigEndian(12 | KmodIndex.flagChildren) + [UInt8(ascii: "a")], "truncated node at 12"),
        (magic + [0, 2, 0, 1] + bigEndian(12 | KmodIndex.flagValues) + bigEndian(0xFFFF_FFF0), "value count 4294967280 at 16"),
        (magic + [0, 2, 0, 1] + bigEndian(12 | KmodIndex.flagChildren) + [UInt8(ascii: "a"), UInt8(ascii: "a")] + bigEndian(12 | KmodIndex.flagChildren),
         "node graph is not a tree (node 12 reached twice)"),
    ] as [([UInt8], String)])
    func refused(bytes: [UInt8], message: String) {
        #expect(throws: KmodIndex.FormatError(file: "b.bin", message: message)) { try KmodIndex.records(bytes, file: "b.bin") }
    }

    @Test func aRecordThatIsNotAnAliasIsAWarningNotAnError() throws {
        // One leaf with key "pci:x" and value "bad/module". (A key without a prefix, like
        // the builtin index's `crct10dif`, is valid and skipped without a word.)
        let bytes = Self.magic + [0, 2, 0, 1] + Self.bigEndian(12 | KmodIndex.flagPrefix | KmodIndex.flagValues)
            + Array("pci:x".utf8) + [0] + Self.bigEndian(1) + Self.bigEndian(0) + Array("bad/module".utf8) + [0]
        let (entries, warnings) = try KmodIndex.aliasEntries(bytes, file: "b.bin")
        #expect(entries.isEmpty)
        #expect(warnings.map(\.description) == ["b.bin:1: not an alias pattern and module name, skipped: pci:x bad/module"])
    }
}
