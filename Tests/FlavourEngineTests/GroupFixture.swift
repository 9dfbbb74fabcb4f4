import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Logging

/// A two-function card behind a root port, all in IOMMU group 7: the classic "I bound
/// one function and the group is unusable" layout.
struct GroupFixture {
    let kernel: TestKernel
    static let bridge = try! PCIAddress(parsing: "0000:00:1c.0")
    static let virtioNet = try! PCIAddress(parsing: "0000:03:00.0")
    static let e1000e = try! PCIAddress(parsing: "0000:03:00.1")
    static let pcieport = TestModule(
        "pcieport", driver: "pcieport", ids: [TestPCIID(vendor: nil, device: nil, classMatch: (0x060400, 0xFFFFFF))],
        builtin: true)

    init() throws {
        kernel = try TestKernel(
            modules: [.vfioPCI, .virtioVFIOPCI, Self.pcieport],
            loaded: [.virtioPCI, .e1000e],
            devices: [
                TestDevice("0000:00:1c.0", vendor: 0x8086, device: 0xA110, classCode: 0x060400, iommuGroup: 7),
                .virtioNet("0000:03:00.0", group: 7), .e1000e("0000:03:00.1", group: 7),
            ])
    }

    func loaded() throws -> MatchTableLoader.Loaded {
        try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
    }

    func executor() throws -> RequestExecutor {
        let loaded = try loaded()
        let binder = Binder(sysfs: kernel.sysfs, loader: kernel, logger: Logger(label: "test"))
        return RequestExecutor(
            sysfs: kernel.sysfs, binder: binder, config: loaded.config, table: loaded.table, procRoot: kernel.procRoot,
            probe: kernel)
    }

    func check() throws -> VFIODriverCheck {
        let loaded = try loaded()
        return VFIODriverCheck(sysfs: kernel.sysfs, table: loaded.table, config: loaded.config)
    }
}
