import FlavourCore
import FlavourEngine
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A simulated kernel behind a temporary sysfs tree, enforcing the rules of
/// KERNEL-FACTS.md rather than accepting any write:
/// - `pci_match_device`: an override naming another driver never matches;
///   `override_only` ids match only through driver_override; an override naming the
///   driver matches even without an id (`pci_device_id_any`).
/// - `driver_override`: a zero-byte write changes nothing, the value is cut at the
///   first newline, "\n" clears it, PAGE_SIZE-1 or longer is EINVAL; reads `(null)`.
/// - `drivers/<d>/bind`: ENODEV for no such device, no match, or a bound device
///   (EBUSY); otherwise the probe's own error. `drivers_probe` always succeeds.
/// - `pci_device_can_probe`: a VF probes only when its PF's `sriov_drivers_autoprobe`
///   is 1 or the VF has an override.
/// - Module loading registers the driver and probes the unbound devices it matches;
///   the driver's name is only discoverable under `/sys/module/<m>/drivers/pci:<name>`.
/// - Synthetic uevents: keys and values must be alphanumeric (`lib/kobject_uevent.c`).
///
/// Writes come in through `SysfsWriter`; reads go to the files, which are kept as the
/// kernel would show them. Thread-safe: one lock, as the driver core's device lock.
public final class TestKernel: SysfsWriter, ModuleLoader, Sendable {
    /// The kernel's tree (`sys`, `proc`, `modules`, `config`, and `run` for the daemon).
    private let directory: TemporaryDirectory
    public var root: String { directory.path }
    let state: Mutex<State>
    private let listeners = Mutex<[@Sendable (KernelUevent) -> Void]>([])
    /// CPU time spent inside the simulated kernel. An atomic, not a field under `state`:
    /// taking the kernel's lock again to add to it would make threads that wait for the
    /// lock spin outside the measured span, and that time would count as the daemon's.
    private let cpuNanoseconds = Atomic<UInt64>(0)
    /// The file-system operations the daemon made, by kind (`SysfsAccess`), for the benchmark.
    private let accessCounts = Mutex([Int](repeating: 0, count: SysfsAccess.allCases.count))
    /// The last uevent's SEQNUM (`lib/kobject_uevent.c`, uevent_seqnum).
    private let ueventSeqnum = Atomic<UInt64>(0)

    struct DeviceState {
        var spec: TestDevice
        var driver: String?
        var override: String?
        var autoprobe = true
        var numVFs = 0
        var physfn: PCIAddress?
        /// The driver_flavour attribute: the stored value, its request's sequence number, and
        /// whether the daemon has yet to finish it.
        var flavour: String?
        var flavourSequence: UInt64 = 0
        var flavourPending = false
        /// N of `vfio-dev/vfioN` while a driver built on vfio_pci_core has it (TestKernel+VFIO).
        var vfioIndex: Int?
        /// `pci_dev->match_driver`: false from the `add` uevent (device_add) until
        /// pci_bus_add_device has finished adding the device (`TestKernel+AddWindows`).
        var matchDriver = true
        /// The driver of a probe attempt under way (really_probe between driver_sysfs_add and
        /// the bus's probe): its `driver` link shows, yet the device has no driver.
        var probeAttempt: String?
        /// A `driver` link shown after a driver_override write and gone at the device's next
        /// locked write, with no probe (`showLinkAfterNextOverride`).
        var lateLink: String?
        /// Locked writes the late link outlives after the next one.
        var lateLinkSurvives = 0
    }

    struct State {
        var devices: [PCIAddress: DeviceState] = [:]
        var available: [ModuleName: TestModule] = [:]
        /// Loaded modules in registration order (the order the driver core tries drivers).
        var loaded: [ModuleName] = []
        var probeErrors: [String: Int32] = [:]
        /// Drivers whose probe succeeds and that let the device go again at once.
        var releasingDrivers: Set<String> = []
        var loadErrors: [ModuleName: Int32] = [:]
        /// modprobe.d `blacklist` lines: left out of alias loads, never of loads by name.
        var blacklist: Set<ModuleName> = []
        var writeErrors: [String: Int32] = [:]
        var events: [KernelEvent] = []
        var hasFlavourAttribute = false
        /// Linux 6.1 and later: registered devices show as `vfio-dev/vfioN` (TestKernel+VFIO).
        var vfioDeviceClass = true
        var vfioIndices = VFIOIndices()
        /// Registered devices per IOMMU group: the group's VFIO node exists while any is.
        var vfioGroupMembers: [Int: Int] = [:]
        var beforeWrite: (@Sendable (String) -> Void)?
        var beforeWriteValue: (@Sendable (String, String) -> Void)?
        /// The host's use of devices (TestKernel+Host).
        var host = TestHost()
        /// The kernel's windows the tests open (TestKernel+AddWindows).
        var holdProbeAttempts = false
        var deferBusAdd = false
        /// Whether a `sriov_numvfs` write ends with the PF's `change` (sriov_enable does).
        var announcesVFsCreated = true
        var linksAfterOverride: [PCIAddress: (driver: String, surviving: Int)] = [:]
    }

    /// Creates the tree in a new temporary directory. `modules` can be loaded (built-in
    /// ones are at once); `loaded` are loaded at boot, as udev's coldplug would have done.
    /// modules.alias for the modular ones is written under `modulesDirectory`.
    /// `vfioDeviceClass: false` makes a kernel before 6.1, whose VFIO devices have no
    /// `vfio-dev/` entry (TestKernel+VFIO).
    public init(
        modules: [TestModule] = [], loaded: [TestModule] = [], devices: [TestDevice] = [], flavourAttribute: Bool = false,
        vfioDeviceClass: Bool = true
    ) throws {
        directory = try TemporaryDirectory(prefix: "flavour-testkernel")
        state = Mutex(State())
        state.withLock { $0.vfioDeviceClass = vfioDeviceClass }
        for dir in ["sys/bus/pci/devices", "sys/bus/pci/drivers", "sys/module", "sys/kernel/iommu_groups", "modules", "config"] {
            try Tree.makeDirectories(root + "/" + dir)
        }
        try Tree.writeFile(root + "/sys/bus/pci/drivers_probe", "")
        try writeHostFiles(TestHost())
        // A host always has processes: init, holding no device.
        try state.withLock { state throws(SysfsError) in try start(1, "systemd", opening: [], in: &state) }
        state.withLock { $0.hasFlavourAttribute = flavourAttribute }
        for module in modules + loaded { try addModule(module) }
        try writeModulesAlias()
        for module in loaded { try load(module.name) }
        for device in devices { try addDevice(device) }
    }

    public var sysfsRoot: String { root + "/sys" }
    public var modulesDirectory: String { root + "/modules" }
    public var configDirectory: String { root + "/config" }
    public var sysfs: Sysfs { Sysfs(root: sysfsRoot, writer: self) }

    // MARK: - Setting up

    public func addModule(_ module: TestModule) throws {
        try state.withLock { state throws(SysfsError) in
            state.available[module.name] = module
            if module.builtin { try register(module, in: &state) }
        }
    }

    /// Hotplug: the device appears, gets an `add` uevent, and loaded drivers probe it.
    public func addDevice(_ device: TestDevice, physfn: PCIAddress? = nil) throws {
        let uevents = try state.withLock { state throws(SysfsError) -> [KernelUevent] in
            try add(device, physfn: physfn, in: &state)
        }
        emit(uevents)
    }

    /// The device disappears (surprise removal): unbound, its directory gone, `remove` sent.
    public func removeDevice(_ address: PCIAddress) {
        let uevents = state.withLock { state in remove(address, in: &state) }
        emit(uevents)
    }

    /// Whether a `sriov_numvfs` write that creates VFs ends with the PF's `change`, as
    /// sriov_enable's does; off, the VFs come as if rescanned one by one, with no word that
    /// they are all there.
    public func announceVFsCreated(_ announce: Bool) {
        state.withLock { $0.announcesVFsCreated = announce }
    }

    /// Makes a driver's probe fail with `errno` (nil: succeed again).
    public func failProbe(driver: String, errno: Int32?) {
        state.withLock { $0.probeErrors[driver] = errno }
    }

    /// A modprobe.d `blacklist MODULE` line.
    public func blacklist(_ module: String) {
        state.withLock { _ = $0.blacklist.insert(ModuleName(module)!) }
    }

    /// Makes a driver's probe report success and the device come loose right after, as a
    /// driver whose probe schedules its own release: `bind` succeeds, the `driver` link
    /// is gone. Only the binder's verification step can tell.
    public func releaseAfterProbe(driver: String, _ releasing: Bool = true) {
        state.withLock { state in
            if releasing { state.releasingDrivers.insert(driver) } else { state.releasingDrivers.remove(driver) }
        }
    }

    /// Makes loading a module fail with `errno`.
    public func failLoad(_ module: String, errno: Int32?) {
        state.withLock { $0.loadErrors[ModuleName(module)!] = errno }
    }

    /// Runs before every write is handled (outside the lock): lets a test remove a
    /// device in the middle of a bind.
    public func beforeWrite(_ hook: (@Sendable (String) -> Void)?) {
        state.withLock { $0.beforeWrite = hook }
    }

    /// The same with the value written too (the device a `bind` write names, say).
    public func beforeWrite(withValue hook: (@Sendable (_ path: String, _ value: String) -> Void)?) {
        state.withLock { $0.beforeWriteValue = hook }
    }

    /// Makes writes to one attribute (relative to the sysfs root) fail with `errno`.
    public func failWrite(_ relative: String, errno: Int32?) {
        state.withLock { $0.writeErrors[sysfsRoot + "/" + relative] = errno }
    }

    /// Writes modules.alias for every non-built-in module, and the built-in aliases as a
    /// text file (`modules.builtin.alias.txt`) for tests that want to read them.
    public func writeModulesAlias(extraLines: [String] = []) throws {
        let (modular, builtin) = state.withLock { state in
            let all = state.available.values.sorted { $0.name < $1.name }
            return (all.filter { !$0.builtin }, all.filter(\.builtin))
        }
        let lines = modular.flatMap { module in module.ids.map { $0.aliasLine(module: module.name.rawValue) } } + extraLines
        try Tree.writeFile(modulesDirectory + "/modules.alias", lines.joined(separator: "\n") + "\n")
        let builtinLines = builtin.flatMap { module in module.ids.map { $0.aliasLine(module: module.name.rawValue) } }
        try Tree.writeFile(modulesDirectory + "/modules.builtin.alias.txt", builtinLines.joined(separator: "\n") + "\n")
    }

    public func writeConfig(_ name: String, _ text: String) throws {
        try Tree.writeFile(configDirectory + "/" + name, text)
    }

    // MARK: - Observing

    public var events: [KernelEvent] { state.withLock { $0.events } }
    public func clearEvents() { state.withLock { $0.events.removeAll() } }
    public func driver(of address: PCIAddress) -> String? { state.withLock { $0.devices[address]?.driver } }
    public func override(of address: PCIAddress) -> String? { state.withLock { $0.devices[address]?.override } }
    public func isLoaded(_ module: String) -> Bool { state.withLock { $0.loaded.contains(ModuleName(module)!) } }
    public var addresses: [PCIAddress] { state.withLock { $0.devices.keys.sorted() } }
    /// CPU time spent inside the simulated kernel, so benchmarks can subtract it.
    public var kernelCPUNanoseconds: UInt64 { cpuNanoseconds.load(ordering: .relaxed) }
    /// The operations made on the tree so far, by kind: writes through this kernel, reads and
    /// lookups as `Sysfs` and the in-use guard report them, procfs looks through `HostProbe`.
    public var accesses: [SysfsAccess: Int] {
        let counts = accessCounts.withLock { $0 }
        return Dictionary(uniqueKeysWithValues: SysfsAccess.allCases.map { ($0, counts[$0.rawValue]) })
    }

    /// Hears every uevent, as a netlink listener would.
    public func subscribe(_ listener: @escaping @Sendable (KernelUevent) -> Void) {
        listeners.withLock { $0.append(listener) }
    }

    func emit(_ uevents: [KernelUevent]) {
        guard !uevents.isEmpty else { return }
        let current = listeners.withLock { $0 }
        for var uevent in uevents {
            uevent.seqnum = ueventSeqnum.add(1, ordering: .relaxed).newValue
            current.forEach { $0(uevent) }
        }
    }

    // MARK: - SysfsWriter

    public func accessed(_ access: SysfsAccess) {
        accessCounts.withLock { $0[access.rawValue] += 1 }
    }

    public func write(_ value: String, to path: String) throws(SysfsError) {
        accessed(.write)
        // Everything from here is the simulated kernel's time, waiting for its lock too (a
        // real kernel serialises on the device lock inside the write).
        let start = Self.threadCPU()
        defer {
            cpuNanoseconds.add(Self.threadCPU() - start, ordering: .relaxed)
        }
        let (hook, valueHook) = state.withLock { ($0.beforeWrite, $0.beforeWriteValue) }
        hook?(path)
        valueHook?(path, value)
        let uevents = try state.withLock { state throws(SysfsError) -> [KernelUevent] in
            if let injected = state.writeErrors[path] { throw SysfsError(.write, path: path, value: value, errno: injected) }
            return try handleWrite(value, path: path, in: &state)
        }
        emit(uevents)
    }

    // MARK: - ModuleLoader

    public func load(_ module: ModuleName) throws(ModuleLoadError) {
        let start = Self.threadCPU()
        defer {
            cpuNanoseconds.add(Self.threadCPU() - start, ordering: .relaxed)
        }
        let uevents = try state.withLock { state throws(ModuleLoadError) -> [KernelUevent] in
            if state.loaded.contains(module) { return [] }
            if let errno = state.loadErrors[module] { throw ModuleLoadError(module: module.rawValue, errno: errno) }
            guard let found = state.available[module] else {
                throw ModuleLoadError(module: module.rawValue, errno: ENOENT, detail: "module not found in the modules dir")
            }
            do throws(SysfsError) { return try register(found, in: &state) } catch {
                throw ModuleLoadError(module: module.rawValue, errno: error.errno)
            }
        }
        emit(uevents)
    }

    public func load(alias: String) throws(ModuleLoadError) -> [ModuleName] {
        guard let modalias = try? Modalias(parsing: alias) else { return [] }
        let device = TestDevice(
            "0000:00:00.0", vendor: modalias.vendor, device: modalias.device, subsystemVendor: modalias.subsystemVendor,
            subsystemDevice: modalias.subsystemDevice,
            classCode: UInt32(modalias.baseClass) << 16 | UInt32(modalias.subClass) << 8 | UInt32(modalias.interface))
        let names = state.withLock { state in
            state.available.values.filter { module in
                !state.blacklist.contains(module.name) && module.ids.contains { !$0.overrideOnly && $0.matches(device) }
            }.map(\.name).sorted()
        }
        for name in names { try load(name) }
        return names
    }

    static func threadCPU() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
