import FlavourCore

/// `--group` and `group`: the whole IOMMU group moves, or nothing does.
extension RequestExecutor {
    /// Every non-bridge member of the device's IOMMU group gets the request, each through
    /// the binder as a single request would. For a flavour, every member must pass the
    /// in-use guard first (unless `force`): one member in use refuses them all, and
    /// nothing is written. A device without a group is handled alone. Outcomes are per
    /// member, by address.
    /// The devices a `group` request on `address` would write to: every non-bridge member
    /// of its IOMMU group, and the device itself (alone when it has no group).
    public func groupMembers(of address: PCIAddress) -> Set<PCIAddress> {
        guard let device = try? sysfs.pciDevice(address), let group = IOMMUGroup(of: device, sysfs: sysfs) else {
            return [address]
        }
        return Set(group.endpoints.map(\.address)).union([address])
    }

    public func handleGroup(address: PCIAddress, requested: RequestedFlavour, options: RequestOptions) -> [BindOutcome] {
        let device: PCIDevice
        do { device = try sysfs.pciDevice(address) } catch {
            return [BindOutcome(address: address, requested: requested.description, previousDriver: nil,
                                result: .refused(error.description), attempts: [])]
        }
        var single = options
        single.group = false
        guard let group = IOMMUGroup(of: device, sysfs: sysfs) else {
            return [handle(address: address, requested: requested, options: single)]
        }
        let members = group.endpoints.isEmpty ? [device] : group.endpoints
        if case .flavour = requested {
            let inUse = members.map { ($0, inUseGuard.check($0)) }.filter { !$0.1.isEmpty }
            if !inUse.isEmpty {
                guard options.force else {
                    let why = inUse.map { "\($0.0.address) is in use by the host: \(Self.describe($0.1))" }.joined(separator: "; ")
                    let message = "IOMMU group \(group.number) cannot be taken as a whole: \(why); use --force to take it anyway"
                    return members.map { refusal($0, requested, message) }
                }
                for (member, reasons) in inUse { logOverride(member, reasons) }
            }
        }
        return members.map { perform(requested, on: $0) }
    }
}
