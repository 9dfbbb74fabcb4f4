import FlavourCore

extension NodeFeatureLabels {
    /// The labels of the devices the kernel has in VFIO mode now. Cheap enough to redo after
    /// every change: besides the VFIO registrations, one modalias read and two readlinks per
    /// registered device, and the other members of its IOMMU group when it shares one.
    public init(reading sysfs: Sysfs) {
        let registered = sysfs.vfioRegisteredDevices()
        var devices: [Device] = []
        for address in registered.keys.sorted() {
            guard let text = try? sysfs.read(PCIPaths.attribute("modalias", of: address)),
                  let modalias = try? Modalias(parsing: text),
                  let driver = sysfs.linkName(PCIPaths.attribute("driver", of: address))
            else { continue }  // gone, or unbound, since the registrations were read
            devices.append(Device(
                vendor: modalias.vendor, device: modalias.device, driver: driver,
                groupViable: Self.groupViable(address, registered: registered, sysfs: sysfs)))
        }
        self.init(devices: devices)
    }

    /// Whether VFIO can own the device's IOMMU group (`IOMMUGroup`): every other member is in
    /// VFIO mode, unbound, or on a driver that manages its own DMA. No group: not usable.
    static func groupViable(_ address: PCIAddress, registered: [PCIAddress: VFIORegistration], sysfs: Sysfs) -> Bool {
        guard let group = sysfs.linkName(PCIPaths.attribute("iommu_group", of: address)) else { return false }
        for name in sysfs.list("kernel/iommu_groups/\(group)/devices") {
            guard let member = try? PCIAddress(parsing: name), member != address, registered[member] == nil else { continue }
            if let driver = sysfs.boundDriver(member), !DriverManagedDMA.isSet(for: driver) { return false }
        }
        return true
    }
}
