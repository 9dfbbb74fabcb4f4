import FlavourCore
import Logging

/// Carries out one request on one device: reads the device, makes the plan from the
/// match table, and hands it to the binder. Shared by `flavourctl apply` and the daemon.
public struct RequestExecutor: Sendable {
    public let sysfs: Sysfs
    public let binder: Binder
    public let config: FlavourConfig
    public let table: MatchTable

    public init(sysfs: Sysfs, binder: Binder, config: FlavourConfig, table: MatchTable) {
        self.sysfs = sysfs
        self.binder = binder
        self.config = config
        self.table = table
    }

    /// `none` and the empty value mean revert; otherwise a known flavour; nil when unknown.
    public func resolve(_ value: String) -> RequestedFlavour? {
        if value.isEmpty || value == Flavour.revertName { return .revert }
        return config.flavour(named: value).map(RequestedFlavour.flavour)
    }

    public func plan(for device: PCIDevice, flavour: Flavour) -> CandidatePlan {
        CandidatePlan(flavour: flavour, modalias: device.modalias, table: table, config: config)
    }

    public func handle(address: PCIAddress, requested: RequestedFlavour) -> BindOutcome {
        let device: PCIDevice
        do { device = try sysfs.pciDevice(address) } catch {
            return BindOutcome(address: address, requested: requested.description, previousDriver: nil,
                               result: .refused(error.description), attempts: [])
        }
        switch requested {
        case .revert: return binder.revert(device)
        case .flavour(let flavour): return binder.apply(plan(for: device, flavour: flavour), to: device)
        }
    }

    /// Names of the known flavours, for error messages.
    public var knownFlavours: String {
        (config.flavours.keys.sorted() + [Flavour.revertName]).joined(separator: ", ")
    }
}
