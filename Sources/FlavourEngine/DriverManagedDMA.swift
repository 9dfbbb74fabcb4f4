/// PCI drivers, besides the VFIO ones, that set `driver_managed_dma` in their
/// `struct pci_driver`: binding them does not claim the IOMMU group's default domain
/// (`drivers/pci/pci-driver.c`, pci_dma_configure, calls
/// `iommu_device_use_default_domain` only for drivers without the flag), so they do not
/// keep VFIO from owning the group (`drivers/iommu/iommu.c`,
/// iommu_group_claim_dma_owner fails while any member is bound to a driver that uses the
/// default domain). sysfs does not show the flag, so the list is kept here, checked
/// against Linux 6.12; every VFIO driver (vfio-pci and the variant drivers under
/// `drivers/vfio/pci/`) sets it too, and `VFIODriverCheck` recognises those.
public enum DriverManagedDMA {
    /// Driver name (as registered with the PCI bus) and the kernel file that sets the flag.
    public static let drivers: [String: String] = [
        // Binds only through new_id or driver_override, to keep a device from its driver.
        "pci-stub": "drivers/pci/pci-stub.c",
        // Root ports and switch ports: no DMA, no MMIO of its own (commit c7d469849747).
        "pcieport": "drivers/pci/pcie/portdrv.c",
    ]

    public static func isSet(for driver: DriverName) -> Bool { drivers[driver.rawValue] != nil }
}
