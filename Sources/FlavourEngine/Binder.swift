import FlavourCore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Binds a device to the first candidate that works, the way the kernel requires
/// (KERNEL-FACTS.md, "Binding"): load the module, learn its driver's real name, write
/// driver_override, unbind, bind through `drivers/<name>/bind` (its errno is the
/// fallback trigger), then verify the `driver` link. When every candidate fails the
/// device goes back to the driver it had and its override is restored.
public struct Binder: Sendable {
    public let sysfs: Sysfs
    public let loader: any ModuleLoader
    public let logger: Logger
    /// Told before the first write and after the last, so a crash can be undone by the next start.
    public let steps: any BindStepRecorder

    public init(sysfs: Sysfs, loader: any ModuleLoader, logger: Logger, steps: any BindStepRecorder = NoStepRecorder()) {
        self.sysfs = sysfs
        self.loader = loader
        self.logger = logger
        self.steps = steps
    }

    // MARK: - Flavour

    public func apply(_ plan: CandidatePlan, to device: PCIDevice) -> BindOutcome {
        let address = device.address
        let previous = device.driver.flatMap(DriverName.init)
        var attempts: [Attempt] = []
        func outcome(_ result: BindOutcome.Result) -> BindOutcome {
            BindOutcome(
                address: address, modalias: device.modalias, requested: plan.flavour.name, previousDriver: previous,
                result: result, attempts: attempts)
        }
        guard !plan.candidates.isEmpty else {
            return outcome(.refused("no candidate driver for flavour \(plan.flavour.name): every one is denied"))
        }
        if let previous, let module = sysfs.module(ofDriver: previous),
           plan.candidates.contains(where: { $0.module == module }) {
            return outcome(.alreadyBound(driver: previous))
        }

        steps.begin(address: address, previousDriver: previous, previousOverride: device.driverOverride)
        defer { steps.end(address: address) }
        var bound = previous  // what the device is on right now
        var changed = false  // whether any write took effect
        candidates: for (index, candidate) in plan.candidates.enumerated() {
            switch tryCandidate(candidate, address: address, bound: &bound, changed: &changed, attempts: &attempts) {
            case .bound(let driver):
                return outcome(index == 0
                    ? .bound(driver: driver, module: candidate.module)
                    : .fellBack(driver: driver, module: candidate.module))
            case .next:
                continue
            case .stop:
                break candidates
            }
        }
        guard changed else {
            // Nothing reached the kernel (every module failed to load, say): nothing to undo.
            attempts.append(Attempt(module: nil, driver: previous, step: .restore, errno: nil, message: "nothing was changed"))
            return outcome(.failedRestored(previous: previous))
        }
        return outcome(restore(address: address, previous: previous, override: device.driverOverride, attempts: &attempts))
    }

    private enum CandidateResult { case bound(DriverName), next, stop }

    private func tryCandidate(
        _ candidate: Candidate, address: PCIAddress, bound: inout DriverName?, changed: inout Bool,
        attempts: inout [Attempt]
    ) -> CandidateResult {
        let module = candidate.module
        func fail(_ step: Attempt.Step, _ driver: DriverName?, _ errno: Int32, _ message: String) {
            attempts.append(Attempt(module: module, driver: driver, step: step, errno: errno, message: message))
            logger.debug("Candidate failed", metadata: [
                "pci.slot_name": "\(address)", "module": "\(module)", "step": "\(step.rawValue)",
                "errno": "\(Errno.name(errno))", "reason": "\(message)",
            ])
        }
        if !sysfs.isLoaded(module) {
            do { try loader.load(module) } catch {
                fail(.load, nil, error.errno, error.description)
                return .next
            }
        }
        let drivers = sysfs.pciDrivers(ofModule: module)
        guard let driver = drivers.first else {
            fail(.findDriver, nil, ENODEV, "module \(module) registered no PCI driver (nothing in /sys/module/\(module)/drivers)")
            return .next
        }
        do {
            try sysfs.write(driver.rawValue, to: PCIPaths.attribute("driver_override", of: address))
            changed = true
        } catch {
            fail(.override, driver, error.errno, error.description)
            return error.errno == ENODEV || error.errno == ENOENT ? .stop : .next
        }
        if let current = bound, current != driver {
            do {
                try sysfs.write(address.description, to: "\(PCIPaths.driver(current))/unbind")
                bound = nil
            } catch {
                // Still on its old driver: no candidate can be bound; restore and stop.
                fail(.unbind, current, error.errno, error.description)
                return .stop
            }
        }
        if bound != driver {
            do {
                try sysfs.write(address.description, to: "\(PCIPaths.driver(driver))/bind")
            } catch {
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
            fail(.verify, driver, ENODEV, "device's driver is \(now.map { "'\($0)'" } ?? "none") after binding \(driver)")
            return now == nil ? .next : .stop
        }
        attempts.append(Attempt(module: module, driver: driver, step: .verify, errno: nil, message: "bound to \(driver)"))
        return .bound(driver)
    }

    /// Puts back the previous override and driver after every candidate failed.
    private func restore(
        address: PCIAddress, previous: DriverName?, override: String?, attempts: inout [Attempt]
    ) -> BindOutcome.Result {
        func note(_ errno: Int32?, _ driver: DriverName?, _ message: String) {
            attempts.append(Attempt(module: nil, driver: driver, step: .restore, errno: errno, message: message))
        }
        // "\n" clears driver_override; an empty write would not (drivers/base/driver.c).
        do {
            try sysfs.write((override ?? "") + "\n", to: PCIPaths.attribute("driver_override", of: address))
        } catch {
            note(error.errno, nil, "could not restore driver_override: \(error.description)")
        }
        let now = sysfs.boundDriver(address)
        guard let previous, now != previous else {
            if now == previous {
                note(nil, previous, previous.map { "back on \($0)" } ?? "left without a driver, as it was")
                return .failedRestored(previous: previous)
            }
            return .failedNotRestored(previous: previous, now: now)
        }
        if let now {
            do { try sysfs.write(address.description, to: "\(PCIPaths.driver(now))/unbind") } catch {
                note(error.errno, now, "could not unbind \(now) to restore \(previous): \(error.description)")
            }
        }
        do {
            try sysfs.write(address.description, to: "\(PCIPaths.driver(previous))/bind")
        } catch {
            note(error.errno, previous, "binding \(previous) back failed: \(error.description); trying drivers_probe")
            try? sysfs.write(address.description, to: PCIPaths.driversProbe)
        }
        let after = sysfs.boundDriver(address)
        guard after == previous else {
            note(ENODEV, previous, "device is on \(after.map(\.rawValue) ?? "no driver"), not \(previous)")
            return .failedNotRestored(previous: previous, now: after)
        }
        note(nil, previous, "back on \(previous)")
        return .failedRestored(previous: previous)
    }

    // MARK: - Revert

    /// Clears driver_override, unbinds, loads the default driver's module and reprobes,
    /// then checks a driver came back.
    public func revert(_ device: PCIDevice) -> BindOutcome {
        let address = device.address
        let previous = device.driver.flatMap(DriverName.init)
        var attempts: [Attempt] = []
        func outcome(_ result: BindOutcome.Result) -> BindOutcome {
            BindOutcome(
                address: address, modalias: device.modalias, requested: Flavour.revertName, previousDriver: previous,
                result: result, attempts: attempts)
        }
        if device.driverOverride == nil, previous != nil {
            return outcome(.alreadyDefault(driver: previous))
        }
        steps.begin(address: address, previousDriver: previous, previousOverride: device.driverOverride)
        defer { steps.end(address: address) }
        do {
            try sysfs.write("\n", to: PCIPaths.attribute("driver_override", of: address))
        } catch {
            attempts.append(Attempt(module: nil, driver: nil, step: .override, errno: error.errno, message: error.description))
            return outcome(.revertFailed("could not clear driver_override: \(error.description)"))
        }
        if let previous {
            do {
                try sysfs.write(address.description, to: "\(PCIPaths.driver(previous))/unbind")
            } catch {
                attempts.append(Attempt(module: nil, driver: previous, step: .unbind, errno: error.errno, message: error.description))
                return outcome(.revertFailed("could not unbind \(previous): \(error.description)"))
            }
        }
        // drivers_probe never loads a module; load the default driver as udev would at add.
        do { try loader.load(alias: device.modalias.description) } catch {
            attempts.append(Attempt(module: nil, driver: nil, step: .load, errno: error.errno, message: error.description))
        }
        do {
            try sysfs.write(address.description, to: PCIPaths.driversProbe)
        } catch {
            attempts.append(Attempt(module: nil, driver: nil, step: .probe, errno: error.errno, message: error.description))
        }
        let now = sysfs.boundDriver(address)
        attempts.append(Attempt(
            module: nil, driver: now, step: .verify, errno: now == nil && previous != nil ? ENODEV : nil,
            message: now.map { "bound to \($0)" } ?? "no driver claimed the device"))
        if now == nil, previous != nil {
            return outcome(.revertFailed(
                "no driver claimed \(address) after drivers_probe; load its default driver (modprobe) and revert again"))
        }
        return outcome(.reverted(driver: now))
    }
}

/// Hears that a bind starts, before its first write, and that it ended (the crash journal).
public protocol BindStepRecorder: Sendable {
    func begin(address: PCIAddress, previousDriver: DriverName?, previousOverride: String?)
    func end(address: PCIAddress)
}

public struct NoStepRecorder: BindStepRecorder {
    public init() {}
    public func begin(address: PCIAddress, previousDriver: DriverName?, previousOverride: String?) {}
    public func end(address: PCIAddress) {}
}
