import FlavourCore

/// Which PCI devices are in VFIO mode, read from the kernel's registrations (`VFIORegistration`),
/// never guessed from a driver's name.
extension Sysfs {
    /// Present once the vfio module is loaded on Linux 6.1 and later; then each device's own
    /// `vfio-dev/` entry is the whole truth, and the group-based reading is not needed.
    static let vfioDeviceClass = "class/vfio-dev"

    /// How the kernel shows the device registered with VFIO, nil when it is not.
    public func vfioRegistration(of address: PCIAddress) -> VFIORegistration? {
        if let name = list(PCIPaths.attribute("vfio-dev", of: address)).first(where: { $0.hasPrefix("vfio") }) {
            return .device(name)
        }
        guard !exists(Self.vfioDeviceClass) else { return nil }
        guard let group = linkName(PCIPaths.attribute("iommu_group", of: address)).flatMap({ Int($0) }),
              exists("class/vfio/\(group)"), isBuiltOnVFIOPCICore(address)
        else { return nil }
        return .group(group)
    }

    /// Every PCI device in VFIO mode. On 6.1 and later one listing of `class/vfio-dev` and a
    /// readlink per registered device (whose target ends `<pci address>/vfio-dev/vfioN`;
    /// registrations under other parents, such as mdev devices, whose names are no PCI
    /// address, are left out); before that, the members of each VFIO group.
    public func vfioRegisteredDevices() -> [PCIAddress: VFIORegistration] {
        var found: [PCIAddress: VFIORegistration] = [:]
        if exists(Self.vfioDeviceClass) {
            for name in list(Self.vfioDeviceClass) {
                guard let target = linkTarget("\(Self.vfioDeviceClass)/\(name)") else { continue }
                let components = target.split(separator: "/")
                guard components.count >= 3, components[components.count - 2] == "vfio-dev",
                      let address = try? PCIAddress(parsing: String(components[components.count - 3]))
                else { continue }
                found[address] = .device(String(name))
            }
            return found
        }
        for group in list("class/vfio").compactMap({ Int($0) }) {
            for member in list("kernel/iommu_groups/\(group)/devices").compactMap({ try? PCIAddress(parsing: $0) })
            where isBuiltOnVFIOPCICore(member) {
                found[member] = .group(group)
            }
        }
        return found
    }

    /// Whether the device's driver belongs to vfio_pci_core or to a module that uses it
    /// (`module/vfio_pci_core/holders/<module>`: vfio_pci and the variant drivers).
    private func isBuiltOnVFIOPCICore(_ address: PCIAddress) -> Bool {
        guard let driver = boundDriver(address), let module = module(ofDriver: driver) else { return false }
        return module.rawValue == "vfio_pci_core" || exists("module/vfio_pci_core/holders/\(module)")
    }
}
