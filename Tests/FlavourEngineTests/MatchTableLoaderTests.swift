import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Testing

@Suite struct MatchTableLoaderTests {
    @Test func malformedAliasLinesAreSkippedWithAWarningNamingTheLine() throws {
        let kernel = try TestKernel(modules: [.vfioPCI, .virtioVFIOPCI])
        try kernel.writeModulesAlias(extraLines: ["alias vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i*", "garbage line here"])
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        #expect(loaded.warnings.count == 2)
        #expect(loaded.warnings[0].contains("modules.alias:4: expected 'alias PATTERN MODULE'"))
        #expect(loaded.table.entries.map(\.module.rawValue).sorted() == ["vfio_pci", "virtio_vfio_pci", "virtio_vfio_pci"])
    }

    @Test func aBrokenConfigIsAnErrorNamingFileAndLine() throws {
        let kernel = try TestKernel()
        try kernel.writeConfig("10-ok.conf", "flavour x - vfio_pci\n")
        try kernel.writeConfig("20-bad.conf", "# fine\nvariant vfio vfio_pci:v* a b c\n")
        try kernel.writeConfig("ignored.txt", "not read: not a .conf\n")
        do {
            _ = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
            Issue.record("loaded a broken config")
        } catch {
            #expect(error.description == "\(kernel.configDirectory)/20-bad.conf:2: 'variant' takes 3 arguments: variant FLAVOUR ALIAS_PATTERN MODULE (got 5)")
        }
    }

    @Test func configFilesAreReadInLexicalOrder() throws {
        let kernel = try TestKernel()
        try kernel.writeConfig("20-b.conf", "variant vfio vfio_pci:v00001AF4* second\n")
        try kernel.writeConfig("10-a.conf", "variant vfio vfio_pci:v00001AF4* first\n")
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        #expect(loaded.config.variants.map(\.module.rawValue) == ["first", "second"])
    }

    @Test func missingModulesAliasIsAWarningNotAnError() throws {
        let loaded = try MatchTableLoader(configDirectory: "/nonexistent", modulesDirectory: "/nonexistent").load()
        #expect(loaded.warnings.count == 1)
        #expect(loaded.warnings[0].contains("run depmod"))
        #expect(loaded.table.count == 0)
    }
}

@Suite struct ConfigFileNameTests {
    @Test(arguments: [("50-site.conf", true), (".#50-site.conf", false), ("50-site.conf~", false), ("README", false), (".hidden.conf", false)])
    func onlyVisibleConfFilesAreRead(name: String, read: Bool) {
        #expect(MatchTableLoader.isConfigFile(name) == read)
    }
}
