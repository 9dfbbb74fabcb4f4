import FlavourCore
import FlavourEngine

/// A device's IOMMU group and whether binding it leaves the group usable by VFIO, for
/// `explain` and `list`.
struct GroupReport {
    struct Blocker: Encodable {
        let address: String
        let driver: String
    }

    let number: Int?
    let members: [PCIDevice]
    /// nil when the device has no group.
    let viable: Bool?
    let blockers: [Blocker]

    init(_ device: PCIDevice, check: VFIODriverCheck) {
        guard let (group, blockers) = check.viability(of: device) else {
            self.number = nil
            self.members = []
            self.viable = nil
            self.blockers = []
            return
        }
        number = group.number
        members = group.members
        viable = blockers.isEmpty
        self.blockers = blockers.map { Blocker(address: $0.address.description, driver: $0.driver.rawValue) }
    }

    /// `yes`, `no (blocked by 0000:03:00.1 on e1000e)`, or `no (no IOMMU group)`.
    var viableText: String {
        guard let viable else { return "no (no IOMMU group)" }
        if viable { return "yes" }
        return "no (blocked by " + blockers.map { "\($0.address) on \($0.driver)" }.joined(separator: ", ") + ")"
    }
}
