import FlavourCore

/// The one guard `flavourctl apply`, `explain`, `list` and flavourd all ask before a request
/// writes anything: the admin's `protect` rules first, which nothing overrides, then the
/// in-use guard, as far as the request would take the device from the host.
public struct RequestGuard: Sendable {
    public let inUse: InUseGuard
    public let protections: [ProtectRule]
    public let vfioCheck: VFIODriverCheck

    public init(inUse: InUseGuard, protections: [ProtectRule], vfioCheck: VFIODriverCheck) {
        self.inUse = inUse
        self.protections = protections
        self.vfioCheck = vfioCheck
    }

    /// What stands in the way of a request on a device.
    public struct Verdict: Sendable {
        /// The `protect` rule naming the device: refused, whatever `force` says.
        public let protection: ProtectRule?
        /// What the host uses it for: refused unless `force`.
        public let reasons: [InUseReason]

        public var isFree: Bool { protection == nil && reasons.isEmpty }
    }

    public func verdict(_ device: PCIDevice, for requested: RequestedFlavour) -> Verdict {
        Verdict(protection: protection(of: device), reasons: scope(of: requested, on: device).map { inUse.check(device, scope: $0) } ?? [])
    }

    /// One verdict per device; the host's tables are read once for them all.
    public func verdicts(_ devices: [PCIDevice], for requested: RequestedFlavour) -> [Verdict] {
        let scopes = devices.map { scope(of: requested, on: $0) }
        let checked = devices.indices.filter { scopes[$0] != nil }
        let found = inUse.check(checked.map { (devices[$0], scopes[$0]!) })
        var reasons = Array(repeating: [InUseReason](), count: devices.count)
        for (index, result) in zip(checked, found) { reasons[index] = result }
        return devices.indices.map { Verdict(protection: protection(of: devices[$0]), reasons: reasons[$0]) }
    }

    /// What the host uses each device for, whatever a request would do with it, and the
    /// rule protecting it: what `explain` and `list` show.
    public func uses(_ devices: [PCIDevice]) -> [Verdict] {
        zip(devices, inUse.check(devices.map { ($0, .everything) })).map { device, reasons in
            Verdict(protection: protection(of: device), reasons: reasons)
        }
    }

    /// How far the request would take the device from whoever uses it: a flavour takes it
    /// from its driver, unless that driver is already one of the flavour's (the binder then
    /// leaves it there); a revert off a VFIO driver takes it only from a VFIO user that holds
    /// it (unbinding would block in `vfio_unregister_group_dev` until the user lets go, and
    /// the user's guest loses the device); a revert off another driver that an override pins
    /// (as driverctl leaves a NIC) takes it from the host. Nil: nothing is taken, a revert
    /// of an unbound device or of one already on its default driver writes nothing.
    func scope(of requested: RequestedFlavour, on device: PCIDevice) -> InUseGuard.Scope? {
        switch requested {
        case .flavour(let flavour):
            // An unbound device (a new VF in a storm) is on no driver: no plan to make.
            guard device.driver != nil else { return .everything }
            let plan = CandidatePlan(flavour: flavour, modalias: device.modalias, table: vfioCheck.table, config: vfioCheck.config)
            return inUse.sysfs.flavourDriver(of: device, in: plan) == nil ? .everything : nil
        case .revert:
            guard let driver = device.driver.flatMap(DriverName.init), device.driverOverride != nil else { return nil }
            return vfioCheck.isVFIO(driver, on: device) ? .openNodes : .everything
        }
    }

    /// The first `protect` rule that names the device. Rules naming an interface (its name
    /// or MAC address) look at the device's interfaces in this network namespace, as they
    /// are named now.
    public func protection(of device: PCIDevice) -> ProtectRule? {
        guard !protections.isEmpty else { return nil }
        var interfaces: [(name: String, mac: String?)]?
        for rule in protections {
            if rule.selector.namesInterface, interfaces == nil { interfaces = self.interfaces(of: device) }
            if rule.selector.matches(address: device.address, modalias: device.modalias, interfaces: interfaces ?? []) {
                return rule
            }
        }
        return nil
    }

    /// The device's interfaces (below it in `class/net`) with their MAC addresses.
    func interfaces(of device: PCIDevice) -> [(name: String, mac: String?)] {
        guard device.driver != nil, let directory = inUse.sysfs.resolveInside(PCIPaths.device(device.address)) else { return [] }
        let name = InUseSurvey.lastComponent(directory)
        return InUseGuard.below(directory, in: inUse.classMembers("class/net", naming: name)).map { member in
            (member.name, inUse.sysfs.readEntry("address", of: member.directory))
        }
    }
}
