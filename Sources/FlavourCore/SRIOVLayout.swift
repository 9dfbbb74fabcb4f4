/// Where a PF's VFs will appear (`drivers/pci/iov.c`, `pci_iov_virtfn_bus/devfn`):
/// VF n has routing id PF + `sriov_offset` + n × `sriov_stride`, and device id
/// `sriov_vf_device`. Lets the daemon see that a standing request covers VFs that do
/// not exist yet, and turn the PF's autoprobe off before they appear.
public struct SRIOVLayout: Hashable, Sendable {
    public let physicalFunction: PCIAddress
    public let totalVFs: Int
    public let offset: Int
    public let stride: Int
    public let vfModalias: Modalias

    public init(physicalFunction: PCIAddress, totalVFs: Int, offset: Int, stride: Int, vfModalias: Modalias) {
        self.physicalFunction = physicalFunction
        self.totalVFs = totalVFs
        self.offset = offset
        self.stride = stride
        self.vfModalias = vfModalias
    }

    /// The address VF `index` (0-based) will have; nil past the bus range.
    public func vfAddress(_ index: Int) -> PCIAddress? {
        let pf = physicalFunction
        let routingID = Int(pf.bus) << 8 | Int(pf.device) << 3 | Int(pf.function)
        let vf = routingID + offset + index * stride
        guard vf >= 0, vf <= 0xFFFF else { return nil }
        return PCIAddress(domain: pf.domain, bus: UInt8(vf >> 8), device: UInt8(vf >> 3 & 0x1F), function: UInt8(vf & 7))
    }

    /// Whether every VF the PF can have is covered by some standing request: only then may
    /// the default driver be kept off all of them (`sriov_drivers_autoprobe` 0 leaves an
    /// uncovered VF with no driver at all).
    public func everyVFCovered(by requests: [StandingRequest]) -> Bool {
        totalVFs > 0 && (0..<totalVFs).allSatisfy { index in
            guard let address = vfAddress(index) else { return false }
            return requests.contains { $0.covers(address: address, modalias: vfModalias) }
        }
    }

    /// The standing requests that will cover at least one VF.
    public func requests(covering requests: [StandingRequest]) -> [StandingRequest] {
        requests.filter { request in
            (0..<totalVFs).contains { index in
                vfAddress(index).map { request.covers(address: $0, modalias: vfModalias) } ?? false
            }
        }
    }
}
