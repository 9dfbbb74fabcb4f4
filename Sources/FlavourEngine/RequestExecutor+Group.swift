import FlavourCore

/// `--group` and `group`: the whole IOMMU group moves, or nothing does.
extension RequestExecutor {
    /// The device's whole IOMMU group as sysfs lists it now (`flavourctl apply --group`);
    /// one outcome per member, in address order. A device without a group is handled alone.
    public func handleGroup(address: PCIAddress, requested: RequestedFlavour, options: RequestOptions) -> [BindOutcome] {
        carryOut(requested, on: scope(of: address, group: true), options: options)
    }

    /// Every member gets the request, each through the binder as a single request would.
    /// Every member must pass the in-use guard first (unless `force`) and, for a flavour,
    /// have a candidate driver: otherwise all are refused and nothing is written. When one
    /// member fails, the members already moved go back to what they had and the rest are
    /// not tried. Each member is read once, here; one that is gone is left out.
    func handleGroup(
        number: Int, members addresses: [PCIAddress], of device: PCIDevice, requested: RequestedFlavour, options: RequestOptions
    ) -> [BindOutcome] {
        let members = addresses.compactMap { $0 == device.address ? device : try? sysfs.pciDevice($0) }
        let verdicts = zip(members, requestGuard.verdicts(members, for: requested))
        if let (member, verdict) = verdicts.first(where: { $0.1.protection != nil }), let rule = verdict.protection {
            let message = "IOMMU group \(number) cannot be taken as a whole: \(Self.protectedText(member.address, rule))"
            return members.map { refusal($0, requested, message) }
        }
        let inUse = verdicts.filter { !$0.1.reasons.isEmpty }.map { ($0.0, $0.1.reasons) }
        if !inUse.isEmpty {
            guard options.force else {
                let why = inUse.map { "\($0.0.address) is in use by the host: \(Self.describe($0.1))" }.joined(separator: "; ")
                let message = "IOMMU group \(number) cannot be taken as a whole: \(why); use --force to take it anyway"
                return members.map { refusal($0, requested, message) }
            }
            for (member, reasons) in inUse { logOverride(member, reasons) }
        }
        if case .flavour(let flavour) = requested,
           let stuck = members.first(where: { plan(for: $0, flavour: flavour).candidates.isEmpty }) {
            let message = "IOMMU group \(number) cannot be taken as a whole: \(stuck.address) has no candidate driver "
                + "for flavour \(flavour.name) (every one is denied)"
            return members.map { refusal($0, requested, message) }
        }
        var outcomes: [BindOutcome] = []
        for (index, member) in members.enumerated() {
            let outcome = perform(requested, on: member)
            outcomes.append(outcome)
            guard outcome.succeeded else {
                let why = "member \(member.address) of IOMMU group \(number) failed (\(outcome.result.name))"
                let undone = zip(members, outcomes.dropLast()).map { rollBack($0, $1, because: why) }
                let untried = members[(index + 1)...].map { refusal($0, requested, "not tried: \(why), so the group stays as it was") }
                return undone + [outcome] + untried
            }
        }
        return outcomes
    }

    /// A member that moved while a later one failed goes back to what it had.
    private func rollBack(_ member: PCIDevice, _ outcome: BindOutcome, because why: String) -> BindOutcome {
        let previous = member.driver.flatMap(DriverName.init)
        let current = sysfs.boundDriver(member.address)
        let override = sysfs.driverOverride(member.address)
        // Nothing had changed (already bound, already default): nothing to undo.
        guard current != previous || override != member.driverOverride else { return outcome }
        let restored = binder.restore(member.address, driver: previous, override: member.driverOverride)
        let note = Attempt(module: nil, driver: current, step: .restore, errno: nil, message: "rolled back: \(why)")
        return BindOutcome(
            address: member.address, modalias: member.modalias, requested: outcome.requested, previousDriver: previous,
            result: restored.succeeded ? .failedRestored(previous: previous) : .failedNotRestored(previous: previous, now: restored.now),
            attempts: outcome.attempts + [note] + restored.attempts)
    }
}
