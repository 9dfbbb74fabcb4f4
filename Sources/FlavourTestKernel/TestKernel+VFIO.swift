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
    func registerVFIO(_ address: PCIAddress, module: TestModule, in state: inout State) {
        let index = state.vfioIndices.take()
        state.devices[address]!.vfioIndex = index
        if state.vfioDeviceClass {
            let entry = "bus/pci/devices/\(address)/vfio-dev/vfio\(index)"
            try? Tree.makeDirectories(sysfsRoot + "/" + entry)
            try? Tree.makeDirectories(sysfsRoot + "/class/vfio-dev")
            // A new name, made in one symlink(2): a reader listing the class never sees a temporary.
            symlink("../../\(entry)", sysfsRoot + "/class/vfio-dev/vfio\(index)")
        } else {
            try? Tree.makeDirectories(sysfsRoot + "/module/vfio_pci_core/holders")
            symlink("../../\(module.name)", sysfsRoot + "/module/vfio_pci_core/holders/\(module.name)")
        }
        if let group = state.devices[address]!.spec.iommuGroup {
            state.vfioGroupMembers[group, default: 0] += 1
            try? Tree.makeDirectories(sysfsRoot + "/class/vfio/\(group)")
        }
    }

    /// The driver let the device go (unbind, or the device's removal).
    func unregisterVFIO(_ address: PCIAddress, in state: inout State) {
        guard let index = state.devices[address]?.vfioIndex else { return }
        state.devices[address]!.vfioIndex = nil
        state.vfioIndices.give(index)
        unlink(sysfsRoot + "/class/vfio-dev/vfio\(index)")
        Tree.removeAll(sysfsRoot + "/bus/pci/devices/\(address)/vfio-dev")
        if let group = state.devices[address]!.spec.iommuGroup {
            state.vfioGroupMembers[group, default: 1] -= 1
            if state.vfioGroupMembers[group] == 0 {
                state.vfioGroupMembers[group] = nil
                rmdir(sysfsRoot + "/class/vfio/\(group)")
            }
        }
    }
}
