import FlavourCore

/// What sysfs says about one PCI function at one moment.
public struct PCIDevice: Hashable, Sendable {
    public let address: PCIAddress
    public let modalias: Modalias
    /// The `class` attribute, e.g. 0x020000.
    public let classCode: UInt32
    /// The bound driver's name (the `driver` link), nil when unbound.
    public let driver: String?
    /// `driver_override`, nil when the kernel shows `(null)`.
    public let driverOverride: String?
    public let iommuGroup: Int?
    /// For an SR-IOV VF, its PF (the `physfn` link).
    public let physicalFunction: PCIAddress?

    public init(
        address: PCIAddress, modalias: Modalias, classCode: UInt32, driver: String?, driverOverride: String?,
        iommuGroup: Int?, physicalFunction: PCIAddress?
    ) {
        self.address = address
        self.modalias = modalias
        self.classCode = classCode
        self.driver = driver
        self.driverOverride = driverOverride
        self.iommuGroup = iommuGroup
        self.physicalFunction = physicalFunction
    }
}
