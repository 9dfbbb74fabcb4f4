import FlavourCore

/// The driver_flavour module's attribute (docs/driver_flavour-module.md).
extension Sysfs {
    /// What the device's driver_flavour reads; nil without the module, or for a value this
    /// version cannot read.
    public func driverFlavour(of address: PCIAddress) -> DriverFlavourState? {
        guard let text = try? read(PCIPaths.attribute("driver_flavour", of: address)) else { return nil }
        return DriverFlavourState(reading: text)
    }
}
