import FlavourCore

extension NodeFeatureLabels {
    /// What does not change while a device exists, kept from one reading of the labels to the
    /// next: its ids and its IOMMU group, and each group's members. A device that comes or goes
    /// is forgotten (and every group's members with it), so what is read again each time is only
    /// what can change: the VFIO registrations and the drivers.
    public struct DeviceFacts: Sendable {
        var ids: [PCIAddress: (vendor: UInt32, device: UInt32)] = [:]
        /// The group's number as its directory is named; nil: no group.
        var groups: [PCIAddress: String?] = [:]
        var members: [String: [PCIAddress]] = [:]

        public init() {}

        /// The device was added or removed.
        public mutating func forget(_ address: PCIAddress) {
            ids[address] = nil
            groups[address] = nil
            members.removeAll()
        }
    }

    /// The universal VFIO driver (module vfio_pci): a device in VFIO mode on any other driver is
    /// on a variant.
    static let universalDriver = DriverName("vfio-pci")!

    /// The labels of the devices the kernel has in VFIO mode now.
    public init(reading sysfs: Sysfs) {
        var facts = DeviceFacts()
        self.init(reading: sysfs, facts: &facts)
    }

    /// The same, reading a device's ids and group only the first time `facts` meets it. Then a
    /// reading costs the registrations (a listing and a readlink a device), a listing of
    /// vfio-pci's devices, and the groups of the devices until one is viable.
    public init(reading sysfs: Sysfs, facts: inout DeviceFacts) {
        let registered = sysfs.vfioRegisteredDevices()
        let addresses = registered.keys.sorted()
        let onUniversal = Set(sysfs.list(PCIPaths.driver(Self.universalDriver)).compactMap { try? PCIAddress(parsing: $0) })
        var devices: [Device] = []
        for address in addresses {
            if facts.ids[address] == nil {
                guard let text = try? sysfs.read(PCIPaths.attribute("modalias", of: address)),
                      let modalias = try? Modalias(parsing: text)
                else { continue }  // gone since the registrations were read
                facts.ids[address] = (modalias.vendor, modalias.device)
            }
            let ids = facts.ids[address]!
            devices.append(Device(vendor: ids.vendor, device: ids.device, variant: !onUniversal.contains(address)))
        }
        let ready = addresses.contains { Self.groupViable($0, registered: registered, sysfs: sysfs, facts: &facts) }
        self.init(devices: devices, vfioReady: ready)
    }

    /// Whether VFIO can own the device's IOMMU group (`IOMMUGroup`): every other member is in
    /// VFIO mode, unbound, or on a driver that manages its own DMA. No group: not usable.
    static func groupViable(
        _ address: PCIAddress, registered: [PCIAddress: VFIORegistration], sysfs: Sysfs, facts: inout DeviceFacts
    ) -> Bool {
        if facts.groups[address] == nil {
            facts.groups[address] = .some(sysfs.linkName(PCIPaths.attribute("iommu_group", of: address)))
        }
        guard let group = facts.groups[address]! else { return false }
        if facts.members[group] == nil {
            facts.members[group] = sysfs.list("kernel/iommu_groups/\(group)/devices").compactMap { try? PCIAddress(parsing: $0) }
        }
        for member in facts.members[group]! where member != address && registered[member] == nil {
            if let driver = sysfs.boundDriver(member), !DriverManagedDMA.isSet(for: driver) { return false }
        }
        return true
    }
}
