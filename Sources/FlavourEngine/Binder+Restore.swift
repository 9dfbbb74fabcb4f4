import FlavourCore

#if canImport(Glibc)
import Glibc
#endif

/// Putting a device back as it was: after every candidate failed, after a revert that
/// no default driver took, for the members of a group when one of them failed, and for
/// a change a crash interrupted. One way of doing it for all four.
extension Binder {
    public struct Restoration: Hashable, Sendable {
        /// The device is on `driver` (or on none, when it had none) with its old override.
        public let succeeded: Bool
        /// The driver it is on afterwards.
        public let now: DriverName?
        public let attempts: [Attempt]
    }

    /// Puts the device back on `previous` with `override` as its driver_override, from
    /// whatever state a failed or interrupted change left it in.
    ///
    /// The previous driver is bound through an override that names it, and only then is
    /// the old override written: a VF whose PF has `sriov_drivers_autoprobe` 0 probes only
    /// with an override (`pci_device_can_probe`), and an override naming the driver
    /// matches even a driver without an id for the device (`pci_device_id_any`).
    public func restore(_ address: PCIAddress, driver previous: DriverName?, override: String?) -> Restoration {
        var attempts: [Attempt] = []
        func note(_ errno: Int32?, _ driver: DriverName?, _ message: String) {
            attempts.append(Attempt(module: nil, driver: driver, step: .restore, errno: errno, message: message))
        }
        func finish() -> Restoration {
            let after = sysfs.boundDriver(address)
            let succeeded = after == previous
            if succeeded {
                note(nil, previous, previous.map { "back on \($0)" } ?? "left without a driver, as it was")
            } else {
                note(ENODEV, previous, "device is on \(after.map(\.rawValue) ?? "no driver"), not \(previous.map(\.rawValue) ?? "none")")
            }
            return Restoration(succeeded: succeeded, now: after, attempts: attempts)
        }
        let overridePath = PCIPaths.attribute("driver_override", of: address)
        // "\n" clears driver_override; an empty write would not (drivers/base/driver.c).
        let finalOverride = (override ?? "") + "\n"
        func writeFinalOverride() {
            do { try sysfs.write(finalOverride, to: overridePath) } catch {
                note(error.errno, nil, "could not restore driver_override: \(error.description)")
            }
        }

        let now = sysfs.boundDriver(address)
        if now == previous {
            writeFinalOverride()
            return finish()
        }
        if let now {
            do { try sysfs.write(address.description, to: "\(PCIPaths.driver(now))/unbind") } catch {
                note(error.errno, now, "could not unbind \(now) to restore \(previous.map(\.rawValue) ?? "no driver"): \(error.description)")
                return finish()
            }
        }
        guard let previous else {
            writeFinalOverride()
            return finish()
        }
        var bound = true
        do {
            try sysfs.write(previous.rawValue, to: overridePath)
            try sysfs.write(address.description, to: "\(PCIPaths.driver(previous))/bind")
        } catch {
            bound = false
            note(error.errno, previous, "binding \(previous) back failed: \(error.description); trying drivers_probe")
        }
        if override != previous.rawValue { writeFinalOverride() }
        // Some driver rather than none: whatever the kernel picks with the old override.
        if !bound, sysfs.boundDriver(address) == nil { try? sysfs.write(address.description, to: PCIPaths.driversProbe) }
        return finish()
    }
}
