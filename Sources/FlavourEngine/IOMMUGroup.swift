import FlavourCore

/// A device's IOMMU group (`kernel/iommu_groups/<N>/devices/`). Since Linux 5.19 VFIO
/// owns a group only when no member is bound to a driver that uses the kernel's DMA
/// domain (`drivers/iommu/iommu.c`, iommu_group_claim_dma_owner and
/// iommu_device_use_default_domain): every member must be unbound, on a VFIO driver, or
/// on a driver that sets `driver_managed_dma` (`DriverManagedDMA`: pci-stub, pcieport).
/// A bridge is no exception by its class: on pcieport it is fine because pcieport
/// manages DMA, unbound because it is unbound; an ISA bridge on lpc_ich blocks.
public struct IOMMUGroup: Hashable, Sendable {
    /// A member that keeps the group from being usable: bound to a driver that is neither
    /// a VFIO driver nor one that manages DMA itself.
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

    /// PCI bridges of any kind (base class 0x06): marked in `explain`, and left to the host
    /// by `--group`.
    public static func isBridge(_ device: PCIDevice) -> Bool { device.classCode >> 16 == 0x06 }

    /// The members that are not bridges: what `--group` takes along.
    public var endpoints: [PCIDevice] { members.filter { !Self.isBridge($0) } }

    /// Who keeps the group unusable once `address` is on a VFIO driver: every other
    /// member, bridge or not, bound to a driver that `isVFIO` does not accept and that
    /// does not manage DMA itself.
    public func blockers(ifBinding address: PCIAddress?, isVFIO: (DriverName, PCIDevice) -> Bool) -> [Blocker] {
        members.compactMap { member in
            guard member.address != address, let driver = member.driver.flatMap(DriverName.init),
                  !DriverManagedDMA.isSet(for: driver), !isVFIO(driver, member)
            else { return nil }
            return Blocker(address: member.address, driver: driver)
        }
    }
}
