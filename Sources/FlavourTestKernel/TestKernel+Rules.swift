import FlavourCore
import FlavourEngine

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's reactions to writes, each named after the kernel function it models.
extension TestKernel {
    static let pageSize = 4096

    func handleWrite(_ value: String, path: String, in state: inout State) throws(SysfsError) -> [KernelUevent] {
        let prefix = sysfsRoot + "/"
        guard path.hasPrefix(prefix) else { throw SysfsError(.write, path: path, value: value, errno: ENOENT) }
        let parts = path.dropFirst(prefix.count).split(separator: "/").map(String.init)
        func fail(_ errno: Int32) -> SysfsError { SysfsError(.write, path: path, value: value, errno: errno) }
        // Every write below takes the device lock, so a probe attempt under way ends first.
        var uevents: [KernelUevent] = []
        if let concerned = Self.deviceConcerned(by: parts, value: value) {
            uevents += try endProbeAttempt(concerned, in: &state)
            if state.devices[concerned]?.lateLink != nil {
                if state.devices[concerned]!.lateLinkSurvives > 0 {
                    state.devices[concerned]!.lateLinkSurvives -= 1
                } else {
                    state.devices[concerned]!.lateLink = nil
                    try syncDevice(concerned, in: state)
                }
            }
        }

        switch parts.count {
        case 3 where parts[0...1] == ["bus", "pci"] && parts[2] == "drivers_probe":
            return try uevents + driversProbe(value, in: &state, fail: fail)
        case 5 where parts[0...2] == ["bus", "pci", "drivers"]:
            let driver = parts[3]
            guard loadedModule(driver: driver, in: state) != nil else { throw fail(ENOENT) }
            switch parts[4] {
            case "bind": return try uevents + bind(driver: driver, value, in: &state, fail: fail)
            case "unbind": return try uevents + unbind(driver: driver, value, in: &state, fail: fail)
            case "new_id", "remove_id": throw fail(EPERM)  // never used for one device; refuse loudly
            default: throw fail(EACCES)
            }
        case 5 where parts[0...2] == ["bus", "pci", "devices"]:
            guard let address = try? PCIAddress(parsing: parts[3]), state.devices[address] != nil else { throw fail(ENOENT) }
            return try uevents + deviceAttribute(parts[4], address: address, value, in: &state, fail: fail)
        case 6 where parts[0...2] == ["bus", "pci", "devices"] && parts[4] == "driver" && parts[5] == "unbind":
            guard let address = try? PCIAddress(parsing: parts[3]), let device = state.devices[address] else { throw fail(ENOENT) }
            // The link was an attempt's (now ended): unbind_store finds no driver, ENODEV.
            guard let driver = device.driver else { throw fail(ENODEV) }
            return try uevents + unbind(driver: driver, value, in: &state, fail: fail)
        default:
            throw fail(EACCES)
        }
    }

    /// `bus/pci/devices/<a>/<attribute>`.
    private func deviceAttribute(
        _ name: String, address: PCIAddress, _ value: String, in state: inout State, fail: (Int32) -> SysfsError
    ) throws(SysfsError) -> [KernelUevent] {
        switch name {
        case "driver_override":
            // drivers/base/driver.c, driver_set_override: len >= PAGE_SIZE-1 is EINVAL; an
            // empty write is a no-op; the value ends at the first newline; "" after that clears.
            guard value.utf8.count < Self.pageSize - 1 else { throw fail(EINVAL) }
            guard !value.isEmpty else { return [] }
            let cut = String(value.prefix { $0 != "\n" })
            state.devices[address]!.override = cut.isEmpty ? nil : cut
            state.events.append(.overrideWritten(address, value: cut))
            if let late = state.linksAfterOverride.removeValue(forKey: address) {
                state.devices[address]!.lateLink = late.driver
                state.devices[address]!.lateLinkSurvives = late.surviving
            }
            try syncDevice(address, in: state)
            return []
        case "sriov_drivers_autoprobe":
            guard state.devices[address]!.spec.totalVFs > 0 else { throw fail(EACCES) }
            guard let flag = Int(value.trimmingNewline), flag == 0 || flag == 1 else { throw fail(EINVAL) }
            state.devices[address]!.autoprobe = flag == 1
            try syncDevice(address, in: state)
            return []
        case "sriov_numvfs":
            return try setNumVFs(address, value, in: &state, fail: fail)
        case "uevent":
            return [try synthUevent(address, value, fail: fail)]
        case "remove":
            // drivers/pci/pci-sysfs.c, remove_store: a number (kstrtoul); 0 does nothing.
            guard let number = Self.kstrtoul(value) else { throw fail(EINVAL) }
            return number == 0 ? [] : remove(address, in: &state)
        case "driver_flavour" where state.hasFlavourAttribute:
            return try writeFlavour(address, value, in: &state, fail: fail)
        default:
            throw fail(EACCES)
        }
    }

    /// The driver_flavour attribute of the project's kernel module (kernel/driver_flavour/):
    /// a request is stored pending with the device's next sequence number and sent; `done N`
    /// and `clear N` finish request N (EBUSY unless it is the one pending); `-NAME` clears a
    /// finished NAME (EBUSY otherwise); none of those three sends a uevent.
    private func writeFlavour(
        _ address: PCIAddress, _ value: String, in state: inout State, fail: (Int32) -> SysfsError
    ) throws(SysfsError) -> [KernelUevent] {
        let text = value.hasSuffix("\n") ? String(value.dropLast()) : value
        var device = state.devices[address]!
        if text.contains(" ") {  // df_finish: "done N", "clear N"
            let words = text.split(separator: " ", omittingEmptySubsequences: false)
            guard words.count == 2, words[0] == "done" || words[0] == "clear", words[1].first?.isNumber == true,
                  words[1].count <= 32, let sequence = UInt64(words[1])
            else { throw fail(EINVAL) }
            guard device.flavourPending, device.flavourSequence == sequence else { throw fail(EBUSY) }
            if words[0] == "done", device.flavour != Flavour.revertName {
                device.flavourPending = false
            } else {
                device.flavour = nil
                device.flavourPending = false
            }
            state.devices[address] = device
            try syncDevice(address, in: state)
            return []
        }
        if text.hasPrefix("-") {  // "-NAME": clears a finished NAME, never a pending request
            let name = String(text.dropFirst())
            guard Flavour.isValidName(name), !name.hasPrefix("-") else { throw fail(EINVAL) }
            guard !device.flavourPending, device.flavour == name else { throw fail(EBUSY) }
            device.flavour = nil
            state.devices[address] = device
            try syncDevice(address, in: state)
            return []
        }
        guard Flavour.isValidName(text) else { throw fail(EINVAL) }
        device.flavourSequence += 1
        device.flavour = text
        device.flavourPending = true
        state.devices[address] = device
        try syncDevice(address, in: state)
        return [KernelUevent(action: "change", address: address, properties: [
            "DRIVER_FLAVOUR": text, DriverFlavourState.sequenceKey: String(device.flavourSequence),
        ])]
    }

    /// `lib/kobject_uevent.c`, kobject_synth_uevent: `ACTION [UUID [KEY=VALUE ...]]`,
    /// keys and values alphanumeric.
    private func synthUevent(_ address: PCIAddress, _ value: String, fail: (Int32) -> SysfsError) throws(SysfsError) -> KernelUevent {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        let actions = ["add", "remove", "change", "move", "online", "offline", "bind", "unbind"]
        guard let action = words.first, actions.contains(action) else { throw fail(EINVAL) }
        var properties = ["SYNTH_UUID": "0"]
        if words.count > 1 {
            guard Self.isUUID(words[1]) else { throw fail(EINVAL) }
            properties["SYNTH_UUID"] = words[1]
            for argument in words.dropFirst(2) {
                let pair = argument.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty,
                      pair.allSatisfy({ $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } })
                else { throw fail(EINVAL) }
                properties["SYNTH_ARG_" + pair[0]] = pair[1]
            }
        }
        return KernelUevent(action: action, address: address, properties: properties)
    }

    /// `lib/kstrtox.c`, kstrtoul with base 0, as sysfs attributes parse numbers: an optional
    /// `+`, `0x` for hex, a leading `0` for octal, one trailing newline; nothing else, and
    /// no overflow. Nil for what the kernel refuses.
    static func kstrtoul(_ text: String) -> UInt64? {
        var digits = Substring(text.hasSuffix("\n") ? String(text.dropLast()) : text)
        if digits.hasPrefix("+") { digits = digits.dropFirst() }
        var radix = 10
        if digits.count > 2, digits.hasPrefix("0x") || digits.hasPrefix("0X"), digits.dropFirst(2).first!.isHexDigit {
            radix = 16
            digits = digits.dropFirst(2)
        } else if digits.hasPrefix("0") {
            radix = 8
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return nil }
        return UInt64(digits, radix: radix)
    }

    static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        return bytes.enumerated().allSatisfy { index, byte in
            [8, 13, 18, 23].contains(index) ? byte == UInt8(ascii: "-") : (byte < 128 && Character(Unicode.Scalar(byte)).isHexDigit)
        }
    }

    /// `drivers/base/bus.c`, bind_store.
    private func bind(driver: String, _ value: String, in state: inout State, fail: (Int32) -> SysfsError) throws(SysfsError) -> [KernelUevent] {
        guard let address = try? PCIAddress(parsing: value.trimmingNewline), let device = state.devices[address],
              let module = loadedModule(driver: driver, in: state), matches(module, device)
        else { throw fail(ENODEV) }
        guard device.driver == nil else { throw fail(EBUSY) }
        if let errno = probe(address, module: module, in: &state) { throw fail(errno) }
        try syncDevice(address, in: state)
        return [KernelUevent(action: "bind", address: address, properties: ["DRIVER": driver])]
    }

    /// `drivers/base/bus.c`, unbind_store.
    private func unbind(driver: String, _ value: String, in state: inout State, fail: (Int32) -> SysfsError) throws(SysfsError) -> [KernelUevent] {
        guard let address = try? PCIAddress(parsing: value.trimmingNewline), state.devices[address]?.driver == driver
        else { throw fail(ENODEV) }
        unregisterVFIO(address, in: &state)
        state.devices[address]!.driver = nil
        state.events.append(.unbound(address, driver: driver))
        try syncDevice(address, in: state)
        return [KernelUevent(action: "unbind", address: address, properties: [:])]
    }

    /// `drivers/base/bus.c`, drivers_probe_store: success even when nothing binds.
    private func driversProbe(_ value: String, in state: inout State, fail: (Int32) -> SysfsError) throws(SysfsError) -> [KernelUevent] {
        guard let address = try? PCIAddress(parsing: value.trimmingNewline), state.devices[address] != nil else {
            throw fail(ENODEV)
        }
        return try attach(address, in: &state)
    }

    /// `device_attach`: try each loaded driver in registration order until one binds.
    func attach(_ address: PCIAddress, in state: inout State) throws(SysfsError) -> [KernelUevent] {
        guard state.devices[address]?.driver == nil, state.devices[address]?.probeAttempt == nil else { return [] }
        for name in state.loaded {
            guard let module = state.available[name], module.registersPCIDriver, let device = state.devices[address],
                  matches(module, device)
            else { continue }
            if state.holdProbeAttempts {
                // really_probe has put the `driver` link up; the bus's probe is still to come.
                state.devices[address]!.probeAttempt = module.driver
                try syncDevice(address, in: state)
                return []
            }
            if probe(address, module: module, in: &state) == nil {
                try syncDevice(address, in: state)
                return [KernelUevent(action: "bind", address: address, properties: ["DRIVER": module.driver])]
            }
        }
        return []
    }

    /// `drivers/pci/pci-driver.c`, pci_match_device.
    func matches(_ module: TestModule, _ device: DeviceState) -> Bool {
        guard device.matchDriver else { return false }  // pci_bus_match, before pci_bus_add_device
        if let override = device.override, override != module.driver { return false }
        for id in module.ids where id.matches(device.spec) {
            if !id.overrideOnly || device.override != nil { return true }
        }
        return device.override != nil  // pci_device_id_any
    }

    /// pci_device_probe: refuses a VF whose PF has autoprobe off (pci_device_can_probe),
    /// then runs the driver's probe. Returns the probe's errno, nil when bound.
    func probe(_ address: PCIAddress, module: TestModule, in state: inout State) -> Int32? {
        let device = state.devices[address]!
        if let pf = device.physfn, state.devices[pf]?.autoprobe == false, device.override == nil { return ENODEV }
        let errno = state.probeErrors[module.driver]
        state.events.append(.probe(address, driver: module.driver, errno: errno))
        guard errno == nil else { return errno }
        guard !state.releasingDrivers.contains(module.driver) else {
            state.events.append(.unbound(address, driver: module.driver))
            return nil  // success, and unbound
        }
        state.devices[address]!.driver = module.driver
        if module.registersWithVFIO { registerVFIO(address, module: module, in: &state) }
        state.events.append(.bound(address, driver: module.driver))
        return nil
    }

    func loadedModule(driver: String, in state: State) -> TestModule? {
        state.loaded.lazy.compactMap { state.available[$0] }.first { $0.registersPCIDriver && $0.driver == driver }
    }

    /// `driver_register`: the driver appears and probes every unbound device it matches.
    @discardableResult
    func register(_ module: TestModule, in state: inout State) throws(SysfsError) -> [KernelUevent] {
        state.loaded.append(module.name)
        state.events.append(.moduleLoaded(module.name.rawValue))
        // The module's directory shows up "coming" before its driver registers, as in
        // kernel/module/main.c; "live" once done. Readers without the lock see both.
        let moduleDir = sysfsRoot + "/module/\(module.name)"
        try Tree.makeDirectories(moduleDir)
        if !module.builtin { try Tree.writeFile(moduleDir + "/initstate", "coming\n") }
        guard module.registersPCIDriver else {
            if !module.builtin { try Tree.writeFile(moduleDir + "/initstate", "live\n") }
            return []
        }
        let driverDir = sysfsRoot + "/bus/pci/drivers/" + module.driver
        try Tree.makeDirectories(driverDir)
        for file in ["bind", "unbind", "new_id", "remove_id", "uevent"] { try Tree.writeFile(driverDir + "/" + file, "") }
        try Tree.makeDirectories(sysfsRoot + "/module/\(module.name)/drivers")
        try Tree.link(driverDir + "/module", to: "../../../../module/\(module.name)")
        try Tree.link(sysfsRoot + "/module/\(module.name)/drivers/pci:\(module.driver)", to: "../../../bus/pci/drivers/\(module.driver)")
        if !module.builtin { try Tree.writeFile(moduleDir + "/initstate", "live\n") }
        var uevents: [KernelUevent] = []
        for address in state.devices.keys.sorted() where state.devices[address]!.driver == nil {
            if matches(module, state.devices[address]!), probe(address, module: module, in: &state) == nil {
                try syncDevice(address, in: state)
                uevents.append(KernelUevent(action: "bind", address: address, properties: ["DRIVER": module.driver]))
            }
        }
        return uevents
    }

    func add(_ spec: TestDevice, physfn: PCIAddress?, in state: inout State) throws(SysfsError) -> [KernelUevent] {
        let address = spec.address
        state.devices[address] = DeviceState(spec: spec, physfn: physfn, matchDriver: !state.deferBusAdd)
        let dir = sysfsRoot + "/bus/pci/devices/\(address)"
        try Tree.makeDirectories(dir)
        for file in ["uevent", "remove"] { try Tree.writeFile(dir + "/" + file, "") }
        for interface in spec.netInterfaces { try Tree.makeDirectories(dir + "/net/" + interface) }
        if let group = spec.iommuGroup {
            try Tree.makeDirectories(sysfsRoot + "/kernel/iommu_groups/\(group)/devices")
            try Tree.link(dir + "/iommu_group", to: "../../../../kernel/iommu_groups/\(group)")
            try Tree.link(sysfsRoot + "/kernel/iommu_groups/\(group)/devices/\(address)", to: "../../../../bus/pci/devices/\(address)")
        }
        // pci_iov_sysfs_link, after the `add` and before pci_bus_add_device: deferred with it.
        if physfn != nil, state.devices[address]!.matchDriver { try linkVF(address, in: state) }
        try syncDevice(address, in: state)
        var uevents = [KernelUevent(action: "add", address: address, properties: ["MODALIAS": spec.modalias.description])]
        // pci_bus_add_device's procfs entry and device_attach; deferred, they come with finishAdding.
        if state.devices[address]!.matchDriver {
            try addProcEntry(address)
            uevents += try attach(address, in: &state)
        }
        return uevents
    }

    func remove(_ address: PCIAddress, in state: inout State) -> [KernelUevent] {
        guard let device = state.devices[address] else { return [] }
        var uevents: [KernelUevent] = []
        if device.numVFs > 0 { uevents += removeVFs(of: address, in: &state) }
        if let driver = device.driver {
            unregisterVFIO(address, in: &state)
            state.events.append(.unbound(address, driver: driver))
            uevents.append(KernelUevent(action: "unbind", address: address, properties: [:]))
        }
        if device.driver != nil { state.devices[address]!.driver = nil }
        state.devices[address] = nil
        Tree.removeAll(sysfsRoot + "/bus/pci/devices/\(address)")
        unlink(procRoot + "/" + PCIPaths.procEntries(address)[0])
        if let group = device.spec.iommuGroup { unlink(sysfsRoot + "/kernel/iommu_groups/\(group)/devices/\(address)") }
        uevents.append(KernelUevent(action: "remove", address: address, properties: [:]))
        return uevents
    }

    /// `drivers/pci/iov.c`, sriov_numvfs_store: a u16 (kstrtou16, else EINVAL), at most
    /// sriov_totalvfs (ERANGE); the count it has already is a no-op; otherwise the PF's
    /// driver makes the VFs (its sriov_configure), so a PF without one is ENOENT; and a
    /// non-zero count changes only through 0 (EBUSY).
    private func setNumVFs(_ pf: PCIAddress, _ value: String, in state: inout State, fail: (Int32) -> SysfsError) throws(SysfsError) -> [KernelUevent] {
        let spec = state.devices[pf]!.spec
        guard spec.totalVFs > 0 else { throw fail(EACCES) }
        guard let number = Self.kstrtoul(value), number <= UInt64(UInt16.max) else { throw fail(EINVAL) }
        let count = Int(number)
        guard count <= spec.totalVFs else { throw fail(ERANGE) }
        let current = state.devices[pf]!.numVFs
        if count == current { return [] }
        guard state.devices[pf]!.driver != nil else { throw fail(ENOENT) }
        if count == 0 { return removeVFs(of: pf, in: &state) }
        guard current == 0 else { throw fail(EBUSY) }
        state.devices[pf]!.numVFs = count
        try syncDevice(pf, in: state)
        var uevents: [KernelUevent] = []
        for index in 0..<count {
            let vf = Self.vfAddress(pf: pf, index: index)
            let vfSpec = TestDevice(
                vf.description, vendor: spec.vendor, device: spec.vfDevice, subsystemVendor: spec.subsystemVendor,
                subsystemDevice: spec.subsystemDevice, classCode: spec.classCode,
                iommuGroup: spec.iommuGroup.map { $0 * 1000 + index + 1 })
            uevents += try add(vfSpec, physfn: pf, in: &state)
        }
        // sriov_enable: the PF's `change` once the last VF is added.
        if state.announcesVFsCreated { uevents.append(KernelUevent(action: "change", address: pf, properties: [:])) }
        return uevents
    }

    /// pci_iov_sysfs_link: the VF's `physfn` link and the PF's `virtfnN`.
    func linkVF(_ vf: PCIAddress, in state: State) throws(SysfsError) {
        guard let pf = state.devices[vf]?.physfn,
              let index = (0..<state.devices[pf]!.numVFs).first(where: { Self.vfAddress(pf: pf, index: $0) == vf })
        else { return }
        try Tree.link(sysfsRoot + "/bus/pci/devices/\(vf)/physfn", to: "../\(pf)")
        try Tree.link(sysfsRoot + "/bus/pci/devices/\(pf)/virtfn\(index)", to: "../\(vf)")
    }

    private func removeVFs(of pf: PCIAddress, in state: inout State) -> [KernelUevent] {
        let count = state.devices[pf]!.numVFs
        var uevents: [KernelUevent] = []
        for index in 0..<count {
            uevents += remove(Self.vfAddress(pf: pf, index: index), in: &state)
            unlink(sysfsRoot + "/bus/pci/devices/\(pf)/virtfn\(index)")
        }
        state.devices[pf]!.numVFs = 0
        try? syncDevice(pf, in: state)
        return uevents
    }

    /// VFs from the bus after the PF's on, eight functions a slot, 256 a bus.
    static func vfAddress(pf: PCIAddress, index: Int) -> PCIAddress {
        PCIAddress(domain: pf.domain, bus: pf.bus &+ 1 &+ UInt8(index / 256), device: UInt8(index % 256 / 8),
                   function: UInt8(index % 8))
    }

    /// Rewrites a device's files and links to match its state, as the kernel would show them.
    func syncDevice(_ address: PCIAddress, in state: State) throws(SysfsError) {
        guard let device = state.devices[address] else { return }
        let dir = sysfsRoot + "/bus/pci/devices/\(address)"
        let spec = device.spec
        func hex(_ value: UInt32, _ width: Int) -> String { "0x" + String(value, radix: 16).leftPadded(width) }
        try Tree.writeFile(dir + "/vendor", hex(spec.vendor, 4) + "\n")
        try Tree.writeFile(dir + "/device", hex(spec.device, 4) + "\n")
        try Tree.writeFile(dir + "/subsystem_vendor", hex(spec.subsystemVendor, 4) + "\n")
        try Tree.writeFile(dir + "/subsystem_device", hex(spec.subsystemDevice, 4) + "\n")
        try Tree.writeFile(dir + "/class", hex(spec.classCode, 6) + "\n")
        try Tree.writeFile(dir + "/modalias", spec.modalias.description + "\n")
        try Tree.writeFile(dir + "/driver_override", (device.override ?? "(null)") + "\n")
        if state.hasFlavourAttribute {
            let text = device.flavourPending
                ? "\(device.flavour ?? "") pending \(device.flavourSequence)" : device.flavour ?? ""
            try Tree.writeFile(dir + "/driver_flavour", text + "\n")
        }
        if spec.totalVFs > 0 {
            try Tree.writeFile(dir + "/sriov_totalvfs", "\(spec.totalVFs)\n")
            try Tree.writeFile(dir + "/sriov_numvfs", "\(device.numVFs)\n")
            try Tree.writeFile(dir + "/sriov_drivers_autoprobe", (device.autoprobe ? "1" : "0") + "\n")
            // VFs sit on the next bus (vfAddress): offset counts from the PF's devfn.
            let devfn = Int(address.device) << 3 | Int(address.function)
            try Tree.writeFile(dir + "/sriov_offset", "\(256 - devfn)\n")
            try Tree.writeFile(dir + "/sriov_stride", "1\n")
            try Tree.writeFile(dir + "/sriov_vf_device", String(spec.vfDevice, radix: 16).leftPadded(4) + "\n")
        }
        let driversDir = sysfsRoot + "/bus/pci/drivers"
        if let driver = device.driver ?? device.probeAttempt ?? device.lateLink {
            try Tree.link(dir + "/driver", to: "../../drivers/\(driver)")
            try Tree.link(driversDir + "/\(driver)/\(address)", to: "../../devices/\(address)")
        } else {
            unlink(dir + "/driver")
        }
        // Drop stale per-driver device links.
        for name in state.loaded.compactMap({ state.available[$0]?.driver }) where name != device.driver ?? device.probeAttempt ?? device.lateLink {
            unlink(driversDir + "/\(name)/\(address)")
        }
    }
}

extension String {
    var trimmingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
