import FlavourCore
import FlavourEngine

#if canImport(Glibc)
import Glibc
#endif

/// VFIO's registration of a device, as a driver built on vfio_pci_core makes it in its probe
/// (`vfio_pci_core_register_device`) and undoes in its remove. Linux 6.1 and later show it
/// as the child device `<device>/vfio-dev/vfioN` of class `vfio-dev` (`drivers/vfio/vfio_main.c`,
/// N the lowest free index); every version as the group's `class/vfio/<group>` (the
/// `/dev/vfio/<group>` node, `drivers/vfio/group.c`) while any member is registered. A kernel
/// made with `vfioDeviceClass: false` is one before 6.1: no per-device entry, and the driver's
/// module listed under `module/vfio_pci_core/holders/`.
extension TestKernel {
    /// The device's nodes follow (`drivers/vfio/vfio_main.c`, vfio_device_add; `group.c`,
    /// vfio_group_find_or_alloc): the cdev `vfio-dev/vfioN` (`/dev/vfio/devices/vfioN`) on
    /// 6.1 and later, and the group's node (`devices/virtual/vfio/G`, `/dev/vfio/G`, listed in
    /// `class/vfio/`) while any member is registered.
    func registerVFIO(_ address: PCIAddress, module: TestModule, in state: inout State) {
        let index = state.vfioIndices.take()
        state.devices[address]!.vfioIndex = index
        if state.vfioDeviceClass {
            let entry = "bus/pci/devices/\(address)/vfio-dev/vfio\(index)"
            try? makeNode(sysfsRoot + "/" + entry, DeviceNumber(.char, major: Self.vfioDeviceMajor, minor: UInt32(index)),
                          name: "vfio/devices/vfio\(index)", in: &state.host)
            try? Tree.makeDirectories(sysfsRoot + "/class/vfio-dev")
            // A new name, made in one symlink(2): a reader listing the class never sees a temporary.
            symlink("../../\(entry)", sysfsRoot + "/class/vfio-dev/vfio\(index)")
        } else {
            try? Tree.makeDirectories(sysfsRoot + "/module/vfio_pci_core/holders")
            symlink("../../\(module.name)", sysfsRoot + "/module/vfio_pci_core/holders/\(module.name)")
        }
        if let group = state.devices[address]!.spec.iommuGroup {
            state.vfioGroupMembers[group, default: 0] += 1
            if state.vfioGroupMembers[group] == 1 {
                try? makeNode(sysfsRoot + "/devices/virtual/vfio/\(group)", DeviceNumber(.char, major: Self.vfioGroupMajor, minor: UInt32(group)),
                              name: "vfio/\(group)", in: &state.host)
                try? Tree.makeDirectories(sysfsRoot + "/class/vfio")
                try? Tree.link(sysfsRoot + "/class/vfio/\(group)", to: "../../devices/virtual/vfio/\(group)")
            }
        }
    }

    /// The driver let the device go (unbind, or the device's removal); the last member to go
    /// takes the group's node with it.
    func unregisterVFIO(_ address: PCIAddress, in state: inout State) {
        guard let index = state.devices[address]?.vfioIndex else { return }
        state.devices[address]!.vfioIndex = nil
        state.vfioIndices.give(index)
        unlink(sysfsRoot + "/class/vfio-dev/vfio\(index)")
        let cdevParent = sysfsRoot + "/bus/pci/devices/\(address)/vfio-dev"
        removeNode(cdevParent + "/vfio\(index)", in: &state.host)
        Tree.removeAll(cdevParent)
        if let group = state.devices[address]!.spec.iommuGroup {
            state.vfioGroupMembers[group, default: 1] -= 1
            if state.vfioGroupMembers[group] == 0 {
                state.vfioGroupMembers[group] = nil
                removeNode(sysfsRoot + "/devices/virtual/vfio/\(group)", in: &state.host)
                unlink(sysfsRoot + "/class/vfio/\(group)")
            }
        }
    }

    /// Dynamic majors: the groups' as a 6.12 guest had it (Debian's kernel has no vfio cdev,
    /// CONFIG_VFIO_DEVICE_CDEV is off; kernels that have it give it its own major).
    static let vfioGroupMajor: UInt32 = 241
    static let vfioDeviceMajor: UInt32 = 240
}
