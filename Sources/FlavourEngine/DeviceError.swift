import FlavourCore

/// A device that cannot be worked on.
public enum DeviceError: Error, Hashable, Sendable, CustomStringConvertible {
    case noSuchDevice(PCIAddress)
    case unreadable(PCIAddress, String)

    public var description: String {
        switch self {
        case .noSuchDevice(let address):
            "no PCI device \(address) (nothing at /sys/bus/pci/devices/\(address)); check the address with lspci -D"
        case .unreadable(let address, let why):
            "cannot read PCI device \(address): \(why)"
        }
    }
}
