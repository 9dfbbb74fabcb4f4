import FlavourCore

/// Whether a bound driver is a VFIO driver, for group viability: its module is
/// `vfio_pci`, its name ends in `vfio-pci`/`vfio_pci`, or its module is one of the
/// device's candidates for the vfio flavour (a variant driver, whatever its name).
public struct VFIODriverCheck: Sendable {
    public let sysfs: Sysfs
    public let table: MatchTable
    public let config: FlavourConfig

    public init(sysfs: Sysfs, table: MatchTable, config: FlavourConfig) {
        self.sysfs = sysfs
        self.table = table
        self.config = config
    }

    public func isVFIO(_ driver: DriverName, on device: PCIDevice) -> Bool {
        let name = driver.rawValue
        if name.hasSuffix("vfio-pci") || name.hasSuffix("vfio_pci") { return true }
        guard let module = sysfs.module(ofDriver: driver) else { return false }
        if module.rawValue == "vfio_pci" { return true }
        let flavour = config.flavour(named: Flavour.vfio.name) ?? .vfio
        let plan = CandidatePlan(flavour: flavour, modalias: device.modalias, table: table, config: config)
        return plan.candidates.contains { $0.module == module }
    }

    /// The blockers of a device's group if it were bound; nil when it has no group.
    public func viability(of device: PCIDevice) -> (group: IOMMUGroup, blockers: [IOMMUGroup.Blocker])? {
        guard let group = IOMMUGroup(of: device, sysfs: sysfs) else { return nil }
        return (group, group.blockers(ifBinding: device.address, isVFIO: isVFIO))
    }
}
