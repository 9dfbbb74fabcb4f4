import FlavourCore

#if canImport(Glibc)
import Glibc
#endif

extension Sysfs {
    /// Reads one device; ENODEV-style errors when it does not exist. Read per request, so
    /// it reads only what it needs: the class code comes from the modalias (`bc`, `sc`, `i`
    /// are the `class` attribute's three bytes).
    public func pciDevice(_ address: PCIAddress) throws(DeviceError) -> PCIDevice {
        let text: String
        do { text = try read(PCIPaths.attribute("modalias", of: address)) } catch {
            if error.errno == ENOENT, !exists(PCIPaths.device(address)) { throw .noSuchDevice(address) }
            throw .unreadable(address, error.description)
        }
        guard let modalias = try? Modalias(parsing: text) else {
            throw .unreadable(address, "its modalias '\(text)' is not a PCI modalias")
        }
        let classCode = UInt32(modalias.baseClass) << 16 | UInt32(modalias.subClass) << 8 | UInt32(modalias.interface)
        return PCIDevice(
            address: address, modalias: modalias, classCode: classCode,
            driver: linkName(PCIPaths.attribute("driver", of: address)),
            driverOverride: driverOverride(address),
            iommuGroup: linkName(PCIPaths.attribute("iommu_group", of: address)).flatMap { Int($0) },
            physicalFunction: linkName(PCIPaths.attribute("physfn", of: address)).flatMap { try? PCIAddress(parsing: $0) })
    }

    /// Every PCI device, by address; devices that vanish while listed are skipped.
    public func pciDevices() -> [PCIDevice] {
        list(PCIPaths.devices).compactMap { try? PCIAddress(parsing: $0) }.sorted().compactMap { try? pciDevice($0) }
    }

    /// `driver_override`, nil when the kernel shows `(null)` (or it cannot be read).
    public func driverOverride(_ address: PCIAddress) -> String? {
        let override = try? read(PCIPaths.attribute("driver_override", of: address))
        return override == "(null)" || override?.isEmpty == true ? nil : override
    }

    /// The driver currently bound, as a validated name.
    public func boundDriver(_ address: PCIAddress) -> DriverName? {
        linkName(PCIPaths.attribute("driver", of: address)).flatMap(DriverName.init)
    }

    /// The module a driver belongs to (`drivers/<name>/module`), nil for drivers that have none.
    public func module(ofDriver driver: DriverName) -> ModuleName? {
        linkName("\(PCIPaths.driver(driver))/module").flatMap(ModuleName.init)
    }

    /// The device's driver and its module when that module is one of the plan's candidates:
    /// the device is on one of the flavour's drivers already, and a request leaves it there.
    public func flavourDriver(of device: PCIDevice, in plan: CandidatePlan) -> (driver: DriverName, module: ModuleName)? {
        guard let driver = device.driver.flatMap(DriverName.init), let module = module(ofDriver: driver),
              plan.candidates.contains(where: { $0.module == module })
        else { return nil }
        return (driver, module)
    }

    /// The PCI drivers a loaded module registered (`module/<m>/drivers/pci:<name>`).
    public func pciDrivers(ofModule module: ModuleName) -> [DriverName] {
        list(PCIPaths.moduleDrivers(module)).compactMap { entry in
            entry.hasPrefix("pci:") ? DriverName(String(entry.dropFirst(4))) : nil
        }
    }

    /// Whether the module is live: its `initstate` says so. A module still initialising
    /// ("coming") has no driver yet, and a built-in one has no `initstate` (loading either
    /// through libkmod is a no-op that returns at once).
    public func isLive(_ module: ModuleName) -> Bool {
        (try? read("module/\(module)/initstate")) == "live"
    }

    /// The PCI drivers a module registered, waiting while it is still initialising: libkmod
    /// returns at once for a module another process is loading (its `initstate` is
    /// "coming", `kernel/module/main.c`), before its init has registered the driver; and
    /// `/sys/module/<m>` shows up a moment before its attributes do. Waits at most `timeout`.
    public func pciDrivers(ofModule module: ModuleName, waitingUpTo timeout: Duration) -> [DriverName] {
        let clock = ContinuousClock()
        let start = clock.now
        while true {
            let drivers = pciDrivers(ofModule: module)
            guard drivers.isEmpty else { return drivers }
            let waited = clock.now - start
            let state = try? read("module/\(module)/initstate")
            let settling = state == "coming" || (state == nil && exists("module/\(module)") && waited < .milliseconds(200))
            guard settling, waited < timeout else { return [] }
            usleep(1000)
        }
    }
}
