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

    /// The device's procfs entry, relative to procfs's root: `bus/pci/<bus>/<slot>.<function>`,
    /// the bus spelled `BB`, or `DDDD:BB` where the architecture shows the domain
    /// (drivers/pci/proc.c, pci_proc_attach_device). pci_bus_add_device makes it just before it
    /// sets match_driver: its presence says the PCI core has finished adding the device.
    public static func procEntries(_ address: PCIAddress) -> [String] {
        let text = address.description
        let bus = text[text.index(text.endIndex, offsetBy: -7)..<text.index(text.endIndex, offsetBy: -5)]
        let slot = text.suffix(4)
        let domainAndBus = text.dropLast(5)
        return address.domain == 0 ? ["\(procBus)/\(bus)/\(slot)", "\(procBus)/\(domainAndBus)/\(slot)"] : ["\(procBus)/\(domainAndBus)/\(slot)"]
    }

    /// procfs's PCI directory, relative to its root; absent without CONFIG_PROC_FS.
    public static let procBus = "bus/pci"
}
