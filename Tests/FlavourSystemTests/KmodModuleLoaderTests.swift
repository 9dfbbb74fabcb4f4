import FlavourCore
import FlavourEngine
import FlavourSystem
import Logging
import Testing

/// The daemon's module loader makes its libkmod context on the first load, not when
/// the daemon starts: a host whose drivers are all loaded never maps libkmod.
struct KmodModuleLoaderTests {
    @Test func libkmodIsOpenedOnTheFirstLoadOnly() throws {
        let loader = KmodModuleLoader(modulesDirectory: "/nonexistent/flavour/modules", logger: Logger(label: "test"))
        #expect(!loader.isOpen)
        // No module answers this alias, so nothing is inserted; the lookup needed libkmod.
        #expect(try loader.load(alias: "vfio_pci:v0000FFFFd0000FFFFsv0000FFFFsd0000FFFFbcFFscFFiFF") == [])
        #expect(loader.isOpen)
        // A copy shares the context (the daemon hands the loader around by value).
        let copy = loader
        #expect(copy.isOpen)
    }

    @Test func aFailedLoadNamesTheModule() throws {
        let loader = KmodModuleLoader(modulesDirectory: "/nonexistent/flavour/modules", logger: Logger(label: "test"))
        let error = #expect(throws: ModuleLoadError.self) { try loader.load(ModuleName("flavour_no_such_module")!) }
        #expect(error?.module == "flavour_no_such_module")
        #expect(loader.isOpen)
    }
}
