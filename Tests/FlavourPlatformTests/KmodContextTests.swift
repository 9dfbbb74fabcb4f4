import FlavourPlatform
import Foundation
import Glibc
import InMemoryLogging
import Logging
import Testing

/// libkmod over a modules tree built here with clang and the real depmod, and over
/// modprobe.d-style alias configuration. Loading cannot succeed in this VM (its
/// kernel has no module support), so only the failure path of `load` is tested.
@Suite(.serialized) struct KmodContextTests {
    static let variants: [FakeModulesTree.Module] = [
        .init(name: "vfio_pci", aliases: ["vfio_pci:v*d*sv*sd*bc*sc*i*"]),
        .init(name: "mlx5_vfio_pci", aliases: ["vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*"]),
        .init(name: "virtio_vfio_pci", aliases: ["vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", "vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i*"]),
        .init(name: "virtio_net", aliases: ["virtio:d00000001v*"]),
    ]
    static let builtin: [FakeModulesTree.Module] = [
        .init(name: "xe_vfio_pci", aliases: ["vfio_pci:v00008086d0000E2F7sv*sd*bc*sc*i*"]),
        .init(name: "ism_vfio_pci", aliases: ["vfio_pci:v00001014d000004EDsv*sd*bc*sc*i*"]),
    ]

    @Test(arguments: [
        // Every wildcard match, in modules.order order (vfio_pci is first there), not by specificity.
        ("vfio_pci:v00001AF4d00001041sv00001AF4sd00001041bc02sc00i00", ["vfio_pci", "virtio_vfio_pci"]),
        ("vfio_pci:v00001AF4d00001042sv00001AF4sd00001042bc01sc00i00", ["vfio_pci", "virtio_vfio_pci"]),
        ("vfio_pci:v000015B3d0000101Esv000015B3sd00000000bc02sc00i00", ["vfio_pci", "mlx5_vfio_pci"]),
        ("vfio_pci:v00008086d00001572sv00008086sd00000000bc02sc00i00", ["vfio_pci"]),
        // The pci: prefix is the default driver's namespace; no VFIO alias matches it.
        ("pci:v00001AF4d00001041sv00001AF4sd00001041bc02sc00i00", []),
        // A module name (dashes normalised to underscores) resolves to itself.
        ("virtio-vfio-pci", ["virtio_vfio_pci"]),
        ("virtio:d00000001v00001AF4", ["virtio_net"]),
        ("no_such_alias", []),
    ])
    func lookupMatchesDepmodIndexesInModulesOrder(alias: String, expected: [String]) throws {
        let tree = try FakeModulesTree(modules: Self.variants, builtin: Self.builtin)
        defer { tree.remove() }
        let kmod = try KmodContext(modulesDirectory: tree.modulesDirectory, configPaths: [])
        #expect(kmod.resourcesError == nil)
        #expect(kmod.modulesDirectory == tree.modulesDirectory)
        #expect(kmod.lookup(alias: alias) == expected)
    }

    /// libkmod stops at the first source with an answer: once modules.alias matches
    /// (the universal vfio_pci always does), modules.builtin.alias is never consulted,
    /// so a built-in variant driver is invisible to a modprobe-style lookup.
    @Test func builtinAliasesOnlyAnswerWhenNoModuleAliasMatches() throws {
        let tree = try FakeModulesTree(modules: Array(Self.variants.dropFirst()), builtin: Self.builtin)
        defer { tree.remove() }
        let kmod = try KmodContext(modulesDirectory: tree.modulesDirectory, configPaths: [])
        #expect(kmod.lookup(alias: "vfio_pci:v00008086d0000E2F7sv00008086sd00000000bc03sc00i00") == ["xe_vfio_pci"])

        let withUniversal = try FakeModulesTree(modules: Self.variants, builtin: Self.builtin)
        defer { withUniversal.remove() }
        let shadowed = try KmodContext(modulesDirectory: withUniversal.modulesDirectory, configPaths: [])
        #expect(shadowed.lookup(alias: "vfio_pci:v00008086d0000E2F7sv00008086sd00000000bc03sc00i00") == ["vfio_pci"])
    }

    /// A text alias file given as configuration (how libkmod sees a modules.alias
    /// that depmod has not indexed): fnmatch wildcards, in file order.
    @Test(arguments: [
        ("vfio_pci:v00001AF4d00001041sv00001AF4sd00001041bc02sc00i00", ["virtio_vfio_pci", "vfio_pci"]),
        ("vfio_pci:v000015B3d0000101Esv000015B3sd00000000bc02sc00i00", ["mlx5_vfio_pci", "vfio_pci"]),
        ("vfio_pci:v000015B3d0000101Fsv000015B3sd00000000bc02sc00i00", ["vfio_pci"]),
        ("vfio_pci:v000010DEd00002342sv000010DEsd00000000bc03sc02i00", ["nvgrace_gpu_vfio_pci", "vfio_pci"]),
        ("vfio_pci:v000010DEd00002343sv000010DEsd00000000bc03sc02i00", ["vfio_pci"]),
    ])
    func lookupReadsAliasLinesFromConfiguration(alias: String, expected: [String]) throws {
        var template = Array((NSTemporaryDirectory() + "flavour-kmod-config-XXXXXX").utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/vfio-aliases.conf"
        try """
            # variant drivers first, the universal driver last
            alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci
            alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci
            alias vfio_pci:v000010DEd0000234[258]sv*sd*bc*sc*i* nvgrace-gpu-vfio-pci
            alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci

            """.write(toFile: config, atomically: true, encoding: .utf8)
        // A modules directory without indexes: lookups still answer from configuration.
        let kmod = try KmodContext(modulesDirectory: directory, configPaths: [config])
        #expect(kmod.resourcesError != nil)
        #expect(kmod.lookup(alias: alias) == expected)
    }

    /// A revert loads the default driver as udev does at `add`: a modprobe.d `blacklist`
    /// line keeps a module out of an alias load.
    @Test func blacklistedModulesAreLeftOutOfAliasLoadsOnly() throws {
        var template = Array((NSTemporaryDirectory() + "flavour-kmod-blacklist-XXXXXX").utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/site.conf"
        try """
            alias pci:v000010DEd00002342sv*sd*bc*sc*i* nouveau
            alias pci:v000010DEd00002342sv*sd*bc*sc*i* nvidiafb
            blacklist nouveau

            """.write(toFile: config, atomically: true, encoding: .utf8)
        let kmod = try KmodContext(modulesDirectory: directory, configPaths: [config])
        let gpu = "pci:v000010DEd00002342sv000010DEsd00000000bc03sc02i00"
        #expect(kmod.lookup(alias: gpu) == ["nouveau", "nvidiafb"])
        #expect(kmod.lookup(alias: gpu, applyingBlacklist: true) == ["nvidiafb"])
    }

    @Test func loadingAMissingModuleNamesItAndCarriesENOENT() throws {
        let tree = try FakeModulesTree(modules: Self.variants)
        defer { tree.remove() }
        var log = InMemoryLogHandler()
        log.logLevel = .debug
        let logger = Logger(label: "kmod") { [log] _ in log }
        let kmod = try KmodContext(modulesDirectory: tree.modulesDirectory, configPaths: [], logger: logger)

        let error = try #require(throws: KmodError.self) {
            try kmod.load(module: "flavour_no_such_vfio_pci")
        }
        #expect(error.module == "flavour_no_such_vfio_pci")
        #expect(error.operation == "load")
        #expect(error.errno == ENOENT)
        #expect(error.description.contains("flavour_no_such_vfio_pci"))
        #expect(error.description.contains("No such file or directory"))
        // libkmod's own complaint came through the va_list shim, formatted.
        #expect(log.entries.map(\.message.description).contains { $0.contains("flavour_no_such_vfio_pci") && !$0.hasSuffix("\n") })
        #expect(!kmod.isLoaded("flavour_no_such_vfio_pci"))
    }

    /// A module in the modules directory's modules.builtin counts as loaded: with no
    /// /sys/module/<name>/initstate, libkmod answers KMOD_MODULE_BUILTIN from its index.
    @Test func builtinModulesCountAsLoaded() throws {
        let tree = try FakeModulesTree(modules: Self.variants, builtin: Self.builtin)
        defer { tree.remove() }
        let kmod = try KmodContext(modulesDirectory: tree.modulesDirectory, configPaths: [])
        #expect(kmod.isLoaded("xe_vfio_pci"))
        #expect(kmod.isLoaded("xe-vfio-pci"))
        #expect(!kmod.isLoaded("mlx5_vfio_pci"))
        // Built in, so loading is a no-op success even where modules cannot be loaded.
        #expect(throws: Never.self) { try kmod.load(module: "xe_vfio_pci") }
    }

    @Test func missingModulesDirectoryIsReportedNotFatal() throws {
        let kmod = try KmodContext(modulesDirectory: "/nonexistent/flavour/modules", configPaths: [])
        let error = try #require(kmod.resourcesError)
        #expect(error.operation == "kmod_load_resources")
        #expect(error.module == "/nonexistent/flavour/modules")
        #expect(kmod.lookup(alias: "vfio_pci:v00001AF4d00001041sv00001AF4sd00001041bc02sc00i00") == [])
    }

    /// libkmod is opened with dlopen, not linked: a host without it gets an error that
    /// names the library, what the dynamic loader said and the package to install, when
    /// a context is first made (a module must be loaded), never at start.
    @Test func aMissingLibkmodIsAnErrorThatSaysWhatToInstall() throws {
        let missing = LibKmod.open("libkmod-flavour-test-missing.so.9")
        guard case let .failure(error) = missing else {
            Issue.record("a library that does not exist was opened")
            return
        }
        #expect(error.operation == "dlopen")
        #expect(error.description.contains("libkmod-flavour-test-missing.so.9"))
        #expect(error.description.contains("cannot open shared object file"))
        #expect(error.description.contains("install libkmod2"))
        #expect(throws: error) { try KmodContext(modulesDirectory: "/nonexistent", configPaths: [], library: missing) }
    }

    /// A library that opens but lacks one of libkmod's functions (here the C library
    /// itself) is refused whole, naming the first function it lacks.
    @Test func aLibraryWithoutLibkmodsFunctionsIsRefused() throws {
        guard case let .failure(error) = LibKmod.open("libc.so.6") else {
            Issue.record("libc.so.6 was taken for libkmod")
            return
        }
        #expect(error.detail == "libc.so.6 has no symbol kmod_new")
    }

    /// The real one resolves every function the contexts above called through.
    @Test func theSystemsLibkmodHasEveryFunction() throws {
        _ = try LibKmod.shared.get()
        #expect(LibKmod.soname == "libkmod.so.2")
    }
}
