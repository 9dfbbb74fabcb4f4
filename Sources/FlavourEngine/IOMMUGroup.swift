import FlavourCore

/// A device's IOMMU group (`kernel/iommu_groups/<N>/devices/`). `/dev/vfio/<N>` is
/// usable only when every member is bound to a VFIO driver or to none, bridges aside
/// (KERNEL-FACTS.md, "IOMMU groups"; `drivers/vfio/group.c` checks each device the same
/// way, and `vfio_pci`'s driver_override exemption covers `pcieport`).
public struct IOMMUGroup: Hashable, Sendable {
    /// A member that keeps the group from being usable: not a bridge, on a non-VFIO driver.
    public struct Blocker: Hashable, Sendable, CustomStringConvertible {
        public let address: PCIAddress
        public let driver: DriverName
        public var description: String { "\(address) on \(driver)" }
    }

    public let number: Int
    public let members: [PCIDevice]

    public init(number: Int, members: [PCIDevice]) {
        self.number = number
        self.members = members
    }

    /// Devices under the group's `devices/`, by address; names that are not PCI
    /// addresses, or members that vanish while listed, are left out.
    public init(number: Int, sysfs: Sysfs) {
        let names = sysfs.list("kernel/iommu_groups/\(number)/devices")
        let members = names.compactMap { try? PCIAddress(parsing: $0) }.sorted().compactMap { try? sysfs.pciDevice($0) }
        self.init(number: number, members: members)
    }

    /// The group of a device; nil when it has none (no IOMMU: vfio-pci cannot take it).
    public init?(of device: PCIDevice, sysfs: Sysfs) {
        guard let number = device.iommuGroup else { return nil }
        self.init(number: number, sysfs: sysfs)
    }

    /// PCI bridges of any kind (base class 0x06): the host keeps them, VFIO ignores them.
    public static func isBridge(_ device: PCIDevice) -> Bool { device.classCode >> 16 == 0x06 }

    /// The members that are not bridges: what `--group` takes along.
    public var endpoints: [PCIDevice] { members.filter { !Self.isBridge($0) } }

    /// Who keeps the group unusable once `address` is on a VFIO driver: every other
    /// member that is not a bridge and is bound to a driver `isVFIO` does not accept.
    public func blockers(ifBinding address: PCIAddress?, isVFIO: (DriverName, PCIDevice) -> Bool) -> [Blocker] {
        endpoints.compactMap { member in
            guard member.address != address, let driver = member.driver.flatMap(DriverName.init),
                  !isVFIO(driver, member)
            else { return nil }
            return Blocker(address: member.address, driver: driver)
        }
    }
}
