import FlavourCore

/// What one request writes to, decided once before it runs (`RequestExecutor.scope`): its
/// device, or with `group` the members of the device's IOMMU group. The scheduler holds
/// every device of `devices` while the request runs; the executor moves exactly `members`.
public enum RequestScope: Hashable, Sendable {
    /// The device alone: no `group`, or a device without an IOMMU group.
    case device(PCIAddress)
    /// IOMMU group `number` of the device: every non-bridge member, in address order (the
    /// device itself when the group has no other).
    case group(PCIAddress, number: Int, members: [PCIAddress])

    /// The device the request was made for.
    public var address: PCIAddress {
        switch self {
        case .device(let address), .group(let address, _, _): address
        }
    }

    /// Every device the request may write to.
    public var devices: Set<PCIAddress> {
        switch self {
        case .device(let address): [address]
        case let .group(address, _, members): Set(members).union([address])
        }
    }
}
