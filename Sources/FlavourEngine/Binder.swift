import FlavourCore
import FlavourPOSIX
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Binds a device to the first candidate that works, the way the kernel requires
/// (KERNEL-FACTS.md, "Binding"): load the module, learn its driver's real name, write
/// driver_override, unbind, bind through `drivers/<name>/bind` (its errno is the
/// fallback trigger), then verify the `driver` link. When every candidate fails the
/// device goes back to the driver it had and its override is restored (`restore`).
/// Reverts are in `Binder+Revert.swift`.
public struct Binder: Sendable {
    public let sysfs: Sysfs
    public let loader: any ModuleLoader
    public let logger: Logger
    /// Told before the first write and after the last, so a crash can be undone by the next start.
    public let steps: any BindStepRecorder
    /// procfs's root, where the PCI core's entries say whether a device is fully added
    /// (`PCIPaths.procEntries`); nil: not looked at, and a bind refused as not yet added is
    /// tried again for about a second only.
    public let procRoot: String?
    /// How long a bind waits for a device the PCI core has not finished adding.
    public let notYetAddedLimit: Duration
    /// The PCI driver each module registered, once seen: a module's driver name does not
    /// change while it is loaded, and one lstat of `drivers/<name>` then says it still is.
    private let driverNames = DriverNames()

    public init(
        sysfs: Sysfs, loader: any ModuleLoader, logger: Logger, steps: any BindStepRecorder = NoStepRecorder(),
        procRoot: String? = nil, notYetAddedLimit: Duration = .seconds(30)
    ) {
        self.sysfs = sysfs
        self.loader = loader
        self.logger = logger
        self.steps = steps
        self.procRoot = procRoot
        self.notYetAddedLimit = notYetAddedLimit
    }

    // MARK: - Flavour

    public func apply(_ plan: CandidatePlan, to device: PCIDevice) -> BindOutcome {
        let address = device.address
        var previous = device.driver.flatMap(DriverName.init)
        var attempts: [Attempt] = []
        func outcome(_ result: BindOutcome.Result) -> BindOutcome {
            BindOutcome(
                address: address, modalias: device.modalias, requested: plan.flavour.name, previousDriver: previous,
                result: result, attempts: attempts)
        }
        guard !plan.candidates.isEmpty else {
            let rules = plan.denied.map { "\($0.candidate.module) by \($0.rule.source)" }.joined(separator: ", ")
            return outcome(.refused(
                "no candidate driver for flavour \(plan.flavour.name): every one is denied (\(rules)); remove a deny rule to allow one"))
        }
        // On one of the flavour's drivers already (a variant, or the universal driver after
        // a fallback): moving it would take it from whoever uses it. Its override is made to
        // name the driver, so a later reprobe (a driver reload, a PF reset) keeps it there.
        if let current = sysfs.flavourDriver(of: device, in: plan) {
            if device.driverOverride != current.driver.rawValue {
                do {
                    try sysfs.write(current.driver.rawValue, to: PCIPaths.attribute("driver_override", of: address))
                    attempts.append(Attempt(module: current.module, driver: current.driver, step: .override, errno: nil,
                                            message: "driver_override set to the driver it is on"))
                } catch {
                    attempts.append(Attempt(module: current.module, driver: current.driver, step: .override, errno: error.errno,
                                            message: error.description))
                }
            }
            return outcome(.alreadyBound(driver: current.driver))
        }

        do {
            try steps.begin(InFlightRecord(
                address: address, operation: .bind, previousDriver: previous, previousOverride: device.driverOverride))
        } catch {
            return outcome(.refused(error.description))
        }
        defer { steps.end(address: address) }
        // The driver the device was on, as the link read right after the first driver_override
        // write shows it (settled: see tryCandidate); the read before may have seen a probe
        // attempt's link.
        func settled(_ driver: DriverName?) {
            logger.debug("Previous driver settled after the device lock", metadata: [
                "pci.slot_name": "\(address)", "read": "\(previous.map(\.rawValue) ?? "none")",
                "settled": "\(driver.map(\.rawValue) ?? "none")",
            ])
            previous = driver
            try? steps.begin(InFlightRecord(
                address: address, operation: .bind, previousDriver: driver, previousOverride: device.driverOverride))
        }
        var bound = previous  // what the device is on right now
        var changed = false  // whether any write took effect
        candidates: for (index, candidate) in plan.candidates.enumerated() {
            switch tryCandidate(
                candidate, address: address, bound: &bound, changed: &changed, attempts: &attempts, settled: settled) {
            case .bound(let driver):
                return outcome(index == 0
                    ? .bound(driver: driver, module: candidate.module)
                    : .fellBack(driver: driver, module: candidate.module))
            case .next:
                continue
            case .stop:
                break candidates
            case .gone:
                return outcome(.gone)
            }
        }
        guard changed else {
            // Nothing reached the kernel (every module failed to load, say): nothing to undo.
            attempts.append(Attempt(module: nil, driver: previous, step: .restore, errno: nil, message: "nothing was changed"))
            return outcome(.failedRestored(previous: previous))
        }
        let restored = restore(address, driver: previous, override: device.driverOverride)
        attempts += restored.attempts
        if !sysfs.exists(PCIPaths.device(address)) { return outcome(.gone) }
        return outcome(restored.succeeded
            ? .failedRestored(previous: previous)
            : .failedNotRestored(previous: previous, now: restored.now))
    }

    private enum CandidateResult { case bound(DriverName), next, stop, gone }

    private func tryCandidate(
        _ candidate: Candidate, address: PCIAddress, bound: inout DriverName?, changed: inout Bool,
        attempts: inout [Attempt], settled: (DriverName?) -> Void
    ) -> CandidateResult {
        let module = candidate.module
        func fail(_ step: Attempt.Step, _ driver: DriverName?, _ errno: Int32, _ message: String) {
            attempts.append(Attempt(module: module, driver: driver, step: step, errno: errno, message: message))
            logger.debug("Candidate failed", metadata: [
                "pci.slot_name": "\(address)", "module": "\(module)", "step": "\(step.rawValue)",
                "errno": "\(Errno.name(errno))", "reason": "\(message)",
            ])
        }
        // A device removed mid-bind fails every later step: say so, and undo nothing.
        func gone() -> Bool { !sysfs.exists(PCIPaths.device(address)) }
        let driver: DriverName
        if let known = driverNames[module], sysfs.exists(PCIPaths.driver(known)) {
            driver = known
        } else {
            if !sysfs.isLive(module) {
                do { try loader.load(module) } catch {
                    fail(.load, nil, error.errno, error.description)
                    return .next
                }
            }
            guard let registered = sysfs.pciDrivers(ofModule: module, waitingUpTo: .seconds(5)).first else {
                fail(.findDriver, nil, ENODEV, "module \(module) registered no PCI driver (nothing in /sys/module/\(module)/drivers)")
                return .next
            }
            driverNames[module] = registered
            driver = registered
        }
        let firstWrite = !changed
        do {
            try sysfs.write(driver.rawValue, to: PCIPaths.attribute("driver_override", of: address))
            // The first write took the device lock: the link is settled now (see below).
            if !changed, case let now = sysfs.boundDriver(address), now != bound {
                if now != driver { settled(now) }
                bound = now
            }
            changed = true
        } catch {
            fail(.override, driver, error.errno, error.description)
            if gone() { return .gone }
            return error.errno == ENODEV || error.errno == ENOENT ? .stop : .next
        }
        if let current = bound, current != driver {
            do {
                try sysfs.write(address.description, to: "\(PCIPaths.driver(current))/unbind")
                bound = nil
            } catch {
                // unbind_store found the device not on `current` (its dev->driver), though the
                // link named it (seen at 1,000 VFs on 6.12 with flavourd weighted over udevd,
                // the link still there after the ENODEV; see below). The kernel's answer
                // stands: the device was on no driver, so it had none to go back to either.
                // Never restore onto the link's driver, whose probe would then really run. By
                // now the PCI core may have finished adding the device and bound the driver
                // asked for, through the override just written (pci_bus_add_device's
                // device_attach): that is the bind, checked below like any other.
                if error.errno == ENODEV, !gone(), case let now = sysfs.boundDriver(address),
                   [nil, current, driver].contains(now) {
                    logger.notice("Unbind found no driver; previous driver taken as none", metadata: [
                        "pci.slot_name": "\(address)", "driver": "\(current)", "now": "\(now.map(\.rawValue) ?? "none")",
                    ])
                    if firstWrite { settled(nil) }
                    bound = now == driver ? driver : nil
                } else {
                    // Still on its old driver: no candidate can be bound; restore and stop.
                    fail(.unbind, current, error.errno, error.description)
                    return gone() ? .gone : .stop
                }
            }
        }
        if bound != driver {
            do {
                try bindOnceAdded(address, to: driver)
            } catch {
                if gone() {
                    fail(.bind, driver, error.errno, error.description)
                    return .gone
                }
                bound = sysfs.boundDriver(address)
                // Already on it (EBUSY): loading the module for another request registered
                // the driver, and driver_register probes every unbound device whose
                // override names it (drivers/base/bus.c, driver_attach). That is success.
                if bound != driver {
                    fail(.bind, driver, error.errno, "the driver's probe refused the device: \(error.description)")
                    return bound == nil ? .next : .stop
                }
            }
        }
        // drivers_probe and even bind can report success without the device being bound.
        let now = sysfs.boundDriver(address)
        bound = now
        guard now == driver else {
            if gone() {
                fail(.verify, driver, ENODEV, "device \(address) was removed while binding \(driver)")
                return .gone
            }
            fail(.verify, driver, ENODEV, "device's driver is \(now.map { "'\($0)'" } ?? "none") after binding \(driver)")
            return now == nil ? .next : .stop
        }
        attempts.append(Attempt(module: module, driver: driver, step: .verify, errno: nil, message: "bound to \(driver)"))
        return .bound(driver)
    }

    // Why the link read after the first driver_override write is settled: really_probe
    // (drivers/base/dd.c) puts a `driver` link up (driver_sysfs_add) before the bus's probe,
    // which may refuse (a VF whose PF has autoprobe off: pci_device_can_probe), and takes it
    // down again, all under the device lock. driver_set_override (drivers/base/driver.c) takes
    // that lock, so the write returns after any attempt under way; and with the override naming
    // another driver, no new attempt by the first can match (pci_match_device). Yet in two
    // 1,000-VFs boots with flavourd weighted 10x over udevd (CPUWeight=1000), 2 and 3 VFs
    // still showed `driver -> nvme` right after the write, and the unbind that followed was
    // ENODEV (unbind_store: dev->driver is not nvme) with the link still there; the mechanism
    // is not identified. So an unbind that is ENODEV while the link names that driver or none
    // settles the previous driver to none as well.

    /// How often a bind refused with ENODEV is tried again once the device is fully added (or
    /// when procfs cannot tell), with waits doubling from 1 ms (about a second in all).
    public static let notYetAddedRetries = 10

    /// `drivers/<driver>/bind`, tried again while the device is not fully added: its `add`
    /// uevent comes from device_add, before pci_bus_add_device (drivers/pci/bus.c) sets
    /// match_driver, and until then pci_bus_match matches no driver and bind_store says
    /// ENODEV. That window lasts as long as the writer of `sriov_numvfs` takes to get there,
    /// which on a busy host is seconds: so while procfs shows no entry for the device
    /// (`PCIPaths.procEntries`, made in pci_bus_add_device) the bind waits, up to
    /// `notYetAddedLimit`; the override names the driver, so pci_bus_add_device's own
    /// device_attach may bind it meanwhile. Once the entry is there, or when procfs cannot
    /// tell, an ENODEV for a device that exists, has no driver and whose override names the
    /// driver is the window's last moment or the probe's own refusal, which a retry only
    /// repeats: hence `notYetAddedRetries`.
    private func bindOnceAdded(_ address: PCIAddress, to driver: DriverName) throws(SysfsError) {
        let clock = ContinuousClock()
        let start = clock.now
        var wait: UInt32 = 1000
        var retries = 0
        while true {
            do {
                try sysfs.write(address.description, to: "\(PCIPaths.driver(driver))/bind")
                return
            } catch where error.errno == ENODEV && notYetAdded(address, driver: driver) {
                if isFullyAdded(address) == false {
                    guard clock.now - start < notYetAddedLimit else { throw error }
                    logger.debug("Bind refused before the PCI core finished adding the device; waiting", metadata: [
                        "pci.slot_name": "\(address)", "driver": "\(driver)", "wait.us": "\(wait)",
                    ])
                } else {
                    guard retries < Self.notYetAddedRetries else { throw error }
                    retries += 1
                    logger.debug("Bind refused with ENODEV; trying again", metadata: [
                        "pci.slot_name": "\(address)", "driver": "\(driver)", "wait.us": "\(wait)",
                    ])
                }
                usleep(wait)
                wait = min(wait * 2, Self.notYetAddedLongestWait)
            }
        }
    }

    /// The longest single wait between two binds of a device not yet added (µs).
    static let notYetAddedLongestWait: UInt32 = 128_000

    private func notYetAdded(_ address: PCIAddress, driver: DriverName) -> Bool {
        sysfs.exists(PCIPaths.device(address)) && sysfs.boundDriver(address) == nil
            && sysfs.driverOverride(address) == driver.rawValue
    }

    /// Whether the PCI core has finished adding the device, by its procfs entry; nil when
    /// there is no procfs root to look in, or it has no PCI directory.
    public func isFullyAdded(_ address: PCIAddress) -> Bool? {
        guard let procRoot else { return nil }
        sysfs.writer.accessed(.procLook)
        if PCIPaths.procEntries(address).contains(where: { FileSystem.exists(procRoot + "/" + $0) }) { return true }
        return FileSystem.exists(procRoot + "/" + PCIPaths.procBus) ? false : nil
    }
}
