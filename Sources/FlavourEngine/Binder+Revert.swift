import FlavourCore

#if canImport(Glibc)
import Glibc
#endif

/// `none`: back to whatever the kernel gives the device by itself.
extension Binder {
    /// Clears driver_override, unbinds, loads the default driver's module as udev would
    /// at `add` (blacklist applied) and reprobes, then checks what the kernel chose.
    ///
    /// "No driver" is the kernel's own answer, and a success, when no module serves the
    /// device's modalias (or only blacklisted ones), or when the device is a VF whose PF
    /// has `sriov_drivers_autoprobe` 0 (the kernel probes no driver for such a VF). When a
    /// default driver exists and still nothing claims the device, the revert failed and
    /// the device goes back to the driver and override it had.
    public func revert(_ device: PCIDevice) -> BindOutcome {
        let address = device.address
        let previous = device.driver.flatMap(DriverName.init)
        var attempts: [Attempt] = []
        func outcome(_ result: BindOutcome.Result) -> BindOutcome {
            BindOutcome(
                address: address, modalias: device.modalias, requested: Flavour.revertName, previousDriver: previous,
                result: result, attempts: attempts)
        }
        func note(_ step: Attempt.Step, _ driver: DriverName?, _ errno: Int32?, _ message: String) {
            attempts.append(Attempt(module: nil, driver: driver, step: step, errno: errno, message: message))
        }
        /// The revert failed although a default driver exists: back to what the device had.
        func rollBack(why: String) -> BindOutcome {
            let restored = restore(device.address, driver: previous, override: device.driverOverride)
            attempts += restored.attempts
            let back = previous.map(\.rawValue) ?? "no driver"
            return outcome(.revertFailed(restored.succeeded
                ? "\(why); put back on \(back)"
                : "\(why); putting it back on \(back) failed too, it is on \(restored.now.map(\.rawValue) ?? "no driver")"))
        }
        if device.driverOverride == nil, previous != nil {
            return outcome(.alreadyDefault(driver: previous))
        }
        do {
            try steps.begin(InFlightRecord(
                address: address, operation: .revert, previousDriver: previous, previousOverride: device.driverOverride))
        } catch {
            return outcome(.refused(error.description))
        }
        defer { steps.end(address: address) }
        do {
            try sysfs.write("\n", to: PCIPaths.attribute("driver_override", of: address))
        } catch {
            note(.override, nil, error.errno, error.description)
            if !sysfs.exists(PCIPaths.device(address)) { return outcome(.gone) }
            return outcome(.revertFailed("could not clear driver_override: \(error.description); nothing was changed"))
        }
        if let previous {
            do {
                try sysfs.write(address.description, to: "\(PCIPaths.driver(previous))/unbind")
            } catch {
                note(.unbind, previous, error.errno, error.description)
                if !sysfs.exists(PCIPaths.device(address)) { return outcome(.gone) }
                attempts += restore(address, driver: previous, override: device.driverOverride).attempts
                return outcome(.revertFailed("could not unbind \(previous): \(error.description); left on \(previous)"))
            }
        }
        if let pf = autoprobeOffPF(of: device) {
            note(.probe, nil, nil,
                 "not probed: its PF \(pf) has sriov_drivers_autoprobe 0, so the kernel gives its VFs no driver; "
                     + "write 1 there and revert again for the default driver")
            return outcome(.reverted(driver: nil))
        }
        // drivers_probe never loads a module; load the default driver as udev would at add.
        let defaults: [ModuleName]
        do { defaults = try loader.load(alias: device.modalias.description) } catch {
            note(.load, nil, error.errno, error.description)
            return rollBack(why: "its default driver's module did not load (\(error.description))")
        }
        do {
            try sysfs.write(address.description, to: PCIPaths.driversProbe)
        } catch {
            note(.probe, nil, error.errno, error.description)
        }
        let now = sysfs.boundDriver(address)
        if let now {
            note(.verify, now, nil, "bound to \(now)")
            return outcome(.reverted(driver: now))
        }
        if !sysfs.exists(PCIPaths.device(address)) { return outcome(.gone) }
        guard previous != nil, !defaults.isEmpty else {
            note(.verify, nil, nil, defaults.isEmpty
                ? "no driver: no module serves \(device.modalias) (or only blacklisted ones)"
                : "no driver claimed it, as before")
            return outcome(.reverted(driver: nil))
        }
        note(.verify, nil, ENODEV, "no driver claimed the device after drivers_probe")
        let names = defaults.map(\.rawValue).joined(separator: ", ")
        return rollBack(why: "its default driver (\(names)) did not claim it; see the kernel log (dmesg) for the probe's error")
    }

    /// A VF's PF, when that PF has VF autoprobe off.
    func autoprobeOffPF(of device: PCIDevice) -> PCIAddress? {
        guard let pf = device.physicalFunction,
              (try? sysfs.read(PCIPaths.attribute("sriov_drivers_autoprobe", of: pf))) == "0"
        else { return nil }
        return pf
    }
}
