/// How the kernel shows that a PCI device is registered with VFIO: what "in VFIO mode" means,
/// whatever its driver is called. vfio-pci and every variant driver (mlx5_vfio_pci,
/// virtio_vfio_pci, ...) register the device through vfio_pci_core
/// (`vfio_pci_core_register_device`, `drivers/vfio/pci/vfio_pci_core.c`), and only a
/// registered device can be opened through `/dev/vfio`.
public enum VFIORegistration: Hashable, Sendable, CustomStringConvertible {
    /// `<device>/vfio-dev/vfioN`: since Linux 6.1 every registered device is a child device of
    /// class `vfio-dev` (`drivers/vfio/vfio_main.c`), and with the VFIO cdev (6.2+) also
    /// `/dev/vfio/devices/vfioN`.
    case device(String)
    /// Before 6.1 there is no per-device entry: the device's IOMMU group has a VFIO group
    /// (`/sys/class/vfio/N`, `/dev/vfio/N`) and its driver's module is built on vfio_pci_core.
    case group(Int)

    /// `vfio-dev/vfio0`, or `group 12`.
    public var description: String {
        switch self {
        case .device(let name): "vfio-dev/\(name)"
        case .group(let number): "group \(number)"
        }
    }

    /// The `vfioN` name under `vfio-dev/`, nil for a registration seen through its group.
    public var deviceName: String? {
        if case .device(let name) = self { return name }
        return nil
    }
}
