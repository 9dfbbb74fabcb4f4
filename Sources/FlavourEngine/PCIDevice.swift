import FlavourCore

#if canImport(Glibc)
import Glibc
#endif

/// What sysfs says about one PCI function at one moment.
public struct PCIDevice: Hashable, Sendable {
    public let address: PCIAddress
    public let modalias: Modalias
    /// The `class` attribute, e.g. 0x020000.
    public let classCode: UInt32
    /// The bound driver's name (the `driver` link), nil when unbound.
    public let driver: String?
    /// `driver_override`, nil when the kernel shows `(null)`.
    public let driverOverride: String?
    public let iommuGroup: Int?
    /// For an SR-IOV VF, its PF (the `physfn` link).
    public let physicalFunction: PCIAddress?

    public init(
        address: PCIAddress, modalias: Modalias, classCode: UInt32, driver: String?, driverOverride: String?,
        iommuGroup: Int?, physicalFunction: PCIAddress?
    ) {
        self.address = address
        self.modalias = modalias
        self.classCode = classCode
        self.driver = driver
        self.driverOverride = driverOverride
        self.iommuGroup = iommuGroup
        self.physicalFunction = physicalFunction
    }
}

/// Paths of the PCI bus in sysfs, relative to the root, built from validated names only.
public enum PCIPaths {
    public static let devices = "bus/pci/devices"
    public static let drivers = "bus/pci/drivers"
    public static let driversProbe = "bus/pci/drivers_probe"

    public static func device(_ address: PCIAddress) -> String { "\(devices)/\(address)" }
    public static func attribute(_ name: String, of address: PCIAddress) -> String { "\(device(address))/\(name)" }
    public static func driver(_ name: DriverName) -> String { "\(drivers)/\(name)" }
    public static func moduleDrivers(_ module: ModuleName) -> String { "module/\(module)/drivers" }
}

/// A driver's name as registered with the PCI bus (`vfio-pci`), distinct from its module
/// (`vfio_pci`). Checked to be a single path component.
public struct DriverName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(_ name: String) {
        guard !name.isEmpty, name.utf8.count < 256, name != ".", name != "..",
              !name.utf8.contains(UInt8(ascii: "/")), !name.utf8.contains(0),
              !name.utf8.contains(UInt8(ascii: "\n"))
        else { return nil }
        rawValue = name
    }

    public var description: String { rawValue }
}

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

/// A device that cannot be worked on.
public enum DeviceError: Error, Hashable, Sendable, CustomStringConvertible {
    case noSuchDevice(PCIAddress)
    case unreadable(PCIAddress, String)

    public var description: String {
        switch self {
        case .noSuchDevice(let address):
            "no PCI device \(address) (nothing at /sys/bus/pci/devices/\(address)); check the address with lspci -D"
        case .unreadable(let address, let why):
            "cannot read PCI device \(address): \(why)"
        }
    }
}

extension Sysfs {
    /// A PF's SR-IOV layout (`sriov_totalvfs`, `sriov_offset`, `sriov_stride`,
    /// `sriov_vf_device`); nil for devices that cannot make VFs.
    public func sriovLayout(of device: PCIDevice) -> SRIOVLayout? {
        func number(_ name: String, radix: Int = 10) -> Int? {
            (try? read(PCIPaths.attribute(name, of: device.address))).flatMap { Int($0, radix: radix) }
        }
        guard let total = number("sriov_totalvfs"), total > 0, let offset = number("sriov_offset"),
              let stride = number("sriov_stride"), let vfDevice = number("sriov_vf_device", radix: 16)
        else { return nil }
        let pf = device.modalias
        let vf = Modalias(
            vendor: pf.vendor, device: UInt32(vfDevice), subsystemVendor: pf.subsystemVendor,
            subsystemDevice: pf.subsystemDevice, baseClass: pf.baseClass, subClass: pf.subClass, interface: pf.interface)
        return SRIOVLayout(physicalFunction: device.address, totalVFs: total, offset: offset, stride: stride, vfModalias: vf)
    }
}
