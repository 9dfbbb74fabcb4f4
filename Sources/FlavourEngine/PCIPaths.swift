import FlavourCore

/// Paths of the PCI bus in sysfs, relative to the root, built from validated names only.
public enum PCIPaths {
    public static let devices = "bus/pci/devices"
    public static let drivers = "bus/pci/drivers"
    public static let driversProbe = "bus/pci/drivers_probe"

    public static func device(_ address: PCIAddress) -> String { "\(devices)/\(address)" }
    public static func attribute(_ name: String, of address: PCIAddress) -> String { "\(device(address))/\(name)" }
    public static func driver(_ name: DriverName) -> String { "\(drivers)/\(name)" }
    public static func moduleDrivers(_ module: ModuleName) -> String { "module/\(module)/drivers" }
}
