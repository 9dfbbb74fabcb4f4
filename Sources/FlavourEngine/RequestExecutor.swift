import FlavourCore
import Logging

/// Carries out one request: reads the device once, makes the plan from the match table,
/// and hands both to the binder. Shared by `flavourctl apply` and the daemon.
public struct RequestExecutor: Sendable {
    public let sysfs: Sysfs
    public let binder: Binder
    public let config: FlavourConfig
    public let table: MatchTable
    /// Refuses protected devices and devices the host uses, before anything is written:
    /// the guard `explain` and `list` show too.
    public let requestGuard: RequestGuard

    /// `probe` answers what the in-use guard asks the kernel about device nodes
    /// (`KernelHostProbe` on a real system, the test kernel in tests).
    public init(
        sysfs: Sysfs, binder: Binder, config: FlavourConfig, table: MatchTable, procRoot: String = DefaultPaths.procRoot,
        probe: any HostProbe
    ) {
        self.sysfs = sysfs
        self.binder = binder
        self.config = config
        self.table = table
        self.requestGuard = RequestGuard(
            inUse: InUseGuard(sysfs: sysfs, procRoot: procRoot, probe: probe), protections: config.protections,
            vfioCheck: VFIODriverCheck(sysfs: sysfs, table: table, config: config))
    }

    /// `none` and the empty value mean revert; otherwise a known flavour; nil when unknown.
    public func resolve(_ value: String) -> RequestedFlavour? {
        if value.isEmpty || value == Flavour.revertName { return .revert }
        return config.flavour(named: value).map(RequestedFlavour.flavour)
    }

    public func plan(for device: PCIDevice, flavour: Flavour) -> CandidatePlan {
        CandidatePlan(flavour: flavour, modalias: device.modalias, table: table, config: config)
    }

    /// What a request on `address` writes to: the device, or with `group` its IOMMU group's
    /// members as sysfs lists them now. Reads sysfs; the scheduler calls it before it
    /// queues the request, never under its lock.
    public func scope(of address: PCIAddress, group: Bool) -> RequestScope {
        guard group, let device = try? sysfs.pciDevice(address), let iommuGroup = IOMMUGroup(of: device, sysfs: sysfs) else {
            return .device(address)
        }
        let endpoints = iommuGroup.endpoints.map(\.address)
        return .group(address, number: iommuGroup.number, members: endpoints.isEmpty ? [address] : endpoints)
    }

    /// Carries out the request on its scope: one outcome for a device, one per member for a
    /// group (`RequestExecutor+Group`). Every device of the scope is locked first (the crash
    /// journal's device locks), and only then read, once, and passed down: what the change
    /// starts from, and what a failure restores, is what the device had while nobody else
    /// (flavourctl apply, another flavourd) could move it. A request that would take a device
    /// the host uses is refused unless `options.force`.
    public func carryOut(_ requested: RequestedFlavour, on scope: RequestScope, options: RequestOptions) -> [BindOutcome] {
        let held = scope.devices.sorted()
        var locked: [PCIAddress] = []
        defer { locked.forEach(binder.steps.unlock) }
        for address in held {
            do throws(InFlightRecord.Refusal) { try binder.steps.lock(address) } catch {
                return [BindOutcome(address: scope.address, requested: requested.description, previousDriver: nil,
                                    result: .refused(error.description), attempts: [])]
            }
            locked.append(address)
        }
        let device: PCIDevice
        do { device = try sysfs.pciDevice(scope.address) } catch {
            return [BindOutcome(address: scope.address, requested: requested.description, previousDriver: nil,
                                result: .refused(error.description), attempts: [])]
        }
        switch scope {
        case .device: return [handle(device, requested: requested, options: options)]
        case let .group(_, number, members):
            return handleGroup(number: number, members: members, of: device, requested: requested, options: options)
        }
    }

    /// One device, or with `options.group` its whole IOMMU group (the outcome returned is
    /// the requested device's; `handleGroup` gives every member's).
    public func handle(address: PCIAddress, requested: RequestedFlavour, options: RequestOptions = .init()) -> BindOutcome {
        let outcomes = carryOut(requested, on: scope(of: address, group: options.group), options: options)
        return outcomes.first { $0.address == address } ?? outcomes[0]
    }

    /// A device already read, alone.
    func handle(_ device: PCIDevice, requested: RequestedFlavour, options: RequestOptions) -> BindOutcome {
        if let refused = refusal(requestGuard.verdict(device, for: requested), device, requested, options: options) {
            return refused
        }
        return perform(requested, on: device)
    }

    /// The refusal a verdict makes, nil when the request may go ahead: a protected device
    /// always; one in use unless `force` (then the override is logged).
    func refusal(_ verdict: RequestGuard.Verdict, _ device: PCIDevice, _ requested: RequestedFlavour, options: RequestOptions) -> BindOutcome? {
        if let rule = verdict.protection {
            return refusal(device, requested, Self.protectedText(device.address, rule))
        }
        guard !verdict.reasons.isEmpty else { return nil }
        guard options.force else {
            return refusal(device, requested, "\(device.address) is in use by the host: \(Self.describe(verdict.reasons)); use --force to take it anyway")
        }
        logOverride(device, verdict.reasons)
        return nil
    }

    /// `0000:03:00.0 is protected by protect eno1 (50-site.conf:2): ...`.
    static func protectedText(_ address: PCIAddress, _ rule: ProtectRule) -> String {
        "\(address) is protected by \(rule): it is never moved, --force or not"
    }

    public var vfioCheck: VFIODriverCheck { requestGuard.vfioCheck }

    /// The request on a device already read and checked.
    func perform(_ requested: RequestedFlavour, on device: PCIDevice) -> BindOutcome {
        switch requested {
        case .revert: return binder.revert(device)
        case .flavour(let flavour): return binder.apply(plan(for: device, flavour: flavour), to: device)
        }
    }

    func refusal(_ device: PCIDevice, _ requested: RequestedFlavour, _ why: String) -> BindOutcome {
        BindOutcome(address: device.address, modalias: device.modalias, requested: requested.description,
                    previousDriver: device.driver.flatMap(DriverName.init), result: .refused(why), attempts: [])
    }

    func logOverride(_ device: PCIDevice, _ reasons: [InUseReason]) {
        binder.logger.warning("In-use guard overridden", metadata: [
            "pci.slot_name": "\(device.address)", "reason": "\(Self.describe(reasons))",
        ])
    }

    static func describe(_ reasons: [InUseReason]) -> String { reasons.map(\.description).joined(separator: "; ") }

    /// Names of the known flavours, for error messages.
    public var knownFlavours: String {
        (config.flavours.keys.sorted() + [Flavour.revertName]).joined(separator: ", ")
    }
}
