import FlavourCore

extension Sysfs {
    /// A PF's SR-IOV layout (`sriov_totalvfs`, `sriov_offset`, `sriov_stride`,
    /// `sriov_vf_device`); nil for devices that cannot make VFs.
    public func sriovLayout(of device: PCIDevice) -> SRIOVLayout? {
        func number(_ name: String, radix: Int = 10) -> Int? {
            (try? read(PCIPaths.attribute(name, of: device.address))).flatMap { Int($0, radix: radix) }
        }
        guard let total = number("sriov_totalvfs"), total > 0, let offset = number("sriov_offset"),
              let stride = number("sriov_stride"), let vfDevice = number("sriov_vf_device", radix: 16)
        else { return nil }
        let pf = device.modalias
        let vf = Modalias(
            vendor: pf.vendor, device: UInt32(vfDevice), subsystemVendor: pf.subsystemVendor,
            subsystemDevice: pf.subsystemDevice, baseClass: pf.baseClass, subClass: pf.subClass, interface: pf.interface)
        return SRIOVLayout(physicalFunction: device.address, totalVFs: total, offset: offset, stride: stride, vfModalias: vf)
    }
}
