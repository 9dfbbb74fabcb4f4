import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Logging

/// A test kernel with the devices and drivers of the guest the real-kernel suite boots,
/// plus a ConnectX VF and an nvgrace GPU for the variants Debian's kernel lacks.
struct Fixture {
    let kernel: TestKernel
    static let virtioNet = try! PCIAddress(parsing: "0000:00:03.0")
    static let e1000e = try! PCIAddress(parsing: "0000:00:04.0")
    static let connectX = try! PCIAddress(parsing: "0000:00:05.0")
    static let gpu = try! PCIAddress(parsing: "0000:00:06.0")
    static let nvmePF = try! PCIAddress(parsing: "0000:01:00.0")

    init(config: String = "", extraModules: [TestModule] = []) throws {
        kernel = try TestKernel(
            modules: [.vfioPCI, .virtioVFIOPCI, .mlx5VFIOPCI, .nvgraceGPUVFIOPCI] + extraModules,
            loaded: [.virtioPCI, .e1000e, .mlx5Core, .nvme],
            devices: [
                .virtioNet("0000:00:03.0", group: 3), .e1000e("0000:00:04.0", group: 4), .connectX("0000:00:05.0", group: 5),
                TestDevice("0000:00:06.0", vendor: 0x10DE, device: 0x2342, classCode: 0x030200, iommuGroup: 6),
                .nvmePF("0000:01:00.0", group: 10),
            ])
        if !config.isEmpty { try kernel.writeConfig("50-test.conf", config) }
    }

    /// The binder reads the test kernel's procfs (whether a device is fully added), and waits
    /// for a device not yet added for `notYetAddedLimit`.
    func executor(logger: Logger = Logger(label: "test"), notYetAddedLimit: Duration = .seconds(2)) throws -> RequestExecutor {
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        let binder = Binder(
            sysfs: kernel.sysfs, loader: kernel, logger: logger, procRoot: kernel.procRoot, notYetAddedLimit: notYetAddedLimit)
        return RequestExecutor(
            sysfs: kernel.sysfs, binder: binder, config: loaded.config, table: loaded.table, procRoot: kernel.procRoot,
            probe: kernel)
    }

    func apply(_ address: PCIAddress, _ flavour: String = "vfio", notYetAddedLimit: Duration = .seconds(2)) throws -> BindOutcome {
        let executor = try executor(notYetAddedLimit: notYetAddedLimit)
        return executor.handle(address: address, requested: try #require(executor.resolve(flavour)))
    }
}

import Testing
