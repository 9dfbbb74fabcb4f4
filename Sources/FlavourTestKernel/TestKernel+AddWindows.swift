import FlavourCore
import FlavourEngine

/// Two windows of a real kernel adding a device, which a listener on the kernel's own
/// uevents (flavourd's kernel source) can fall into; udevd's delay usually hides them.
/// - A probe attempt's `driver` link: really_probe (drivers/base/dd.c) links the device to
///   the driver (driver_sysfs_add) before the bus's probe runs, and takes the link down again
///   when that probe refuses, as pci_device_probe does for a VF whose PF has autoprobe off
///   (pci_device_can_probe). The attempt runs under the device lock, so a write that takes the
///   lock (driver_override, bind, unbind, drivers_probe) waits for it to end.
/// - A device not fully added: device_add sends `add` (drivers/pci/iov.c, pci_iov_add_virtfn
///   -> pci_device_add) before pci_iov_sysfs_link makes the VF's `physfn` link and before
///   pci_bus_add_device (drivers/pci/bus.c) sets match_driver, so until then the VF does not
///   say it is one, pci_bus_match matches no driver, and a `bind` is ENODEV.
extension TestKernel {
    /// Attempts to probe a new device with a driver its PF's autoprobe refuses stay under
    /// way, their `driver` link showing, until the device lock is next taken.
    public func holdProbeAttempts(_ hold: Bool = true) {
        state.withLock { $0.holdProbeAttempts = hold }
    }

    /// New devices get their `add` uevent and stay not fully added (a VF without its `physfn`
    /// link, match_driver false, no driver attached) until `finishAdding`.
    public func deferBusAdd(_ deferring: Bool = true) {
        state.withLock { $0.deferBusAdd = deferring }
    }

    /// The rest of a deferred device's add: a VF's links (pci_iov_sysfs_link), then
    /// pci_bus_add_device's procfs entry, match_driver set, and device_attach.
    public func finishAdding(_ address: PCIAddress) throws {
        let uevents = try state.withLock { state throws(SysfsError) -> [KernelUevent] in
            guard state.devices[address] != nil, !state.devices[address]!.matchDriver else { return [] }
            try linkVF(address, in: state)
            try addProcEntry(address)
            state.devices[address]!.matchDriver = true
            return try attach(address, in: &state)
        }
        emit(uevents)
    }

    /// After the device's next driver_override write, its `driver` link names `driver`, yet
    /// the device has none (an unbind is ENODEV), until `surviving` more writes that take the
    /// device lock have passed. Seen in a 6.12 guest at 1,000 VFs with flavourd weighted over
    /// udevd: the link read right after the override write, and still there after the unbind's
    /// ENODEV; how the kernel got there is not known.
    public func showLinkAfterNextOverride(_ address: PCIAddress, driver: String, surviving: Int = 0) {
        state.withLock { $0.linksAfterOverride[address] = (driver, surviving) }
    }

    /// pci_proc_attach_device: `<proc root>/bus/pci/<bus>/<slot>.<function>` (domain 0 here).
    func addProcEntry(_ address: PCIAddress) throws(SysfsError) {
        let entry = procRoot + "/" + PCIPaths.procEntries(address)[0]
        try Tree.makeDirectories(String(entry[..<entry.lastIndex(of: "/")!]))
        try Tree.writeFile(entry, "")
    }

    /// Whether a probe attempt is under way on the device (its `driver` link is the attempt's).
    public func probeAttempt(on address: PCIAddress) -> String? {
        state.withLock { $0.devices[address]?.probeAttempt }
    }

    /// The device a write takes the lock of: `devices/<a>/...`, or the address written to a
    /// driver's `bind`/`unbind` or to `drivers_probe`.
    static func deviceConcerned(by parts: [String], value: String) -> PCIAddress? {
        if parts.count >= 5, parts[0...2] == ["bus", "pci", "devices"] { return try? PCIAddress(parsing: parts[3]) }
        let named = (parts.count == 3 && parts[2] == "drivers_probe") || (parts.count == 5 && parts[2] == "drivers")
        return named ? try? PCIAddress(parsing: value.trimmingNewline) : nil
    }

    /// The attempt under way on the device ends as its probe decides now: refused when the
    /// PF's autoprobe is off and the device has no override (its link comes down), else run.
    func endProbeAttempt(_ address: PCIAddress, in state: inout State) throws(SysfsError) -> [KernelUevent] {
        guard let driver = state.devices[address]?.probeAttempt else { return [] }
        state.devices[address]!.probeAttempt = nil
        var uevents: [KernelUevent] = []
        if let module = loadedModule(driver: driver, in: state), probe(address, module: module, in: &state) == nil {
            uevents.append(KernelUevent(action: "bind", address: address, properties: ["DRIVER": driver]))
        }
        try syncDevice(address, in: state)
        return uevents
    }
}
