import FlavourCore
import FlavourEngine

/// What flavourd queues without an event: at start the requests its predecessor took on,
/// then, at start and at every resync, what driver_flavour attributes still ask for, then
/// the standing requests (coldplug, also after each reload).
extension FlavourService {
    /// The start's requests, queued in that order (a device's newest wins); READY follows
    /// without waiting for them.
    func startUp(
        taken: [RequestRecord], executor: RequestExecutor, scheduler: RequestScheduler, report: RequestScheduler.Report
    ) async {
        var queued = resume(taken, executor: executor, scheduler: scheduler, report: report)
        queued += pendingAttributeRequests(executor: executor, scheduler: scheduler)
        queued += coldplug(executor: executor, scheduler: scheduler, pin: true)
        if state.startupSubmitted(queued.compactMap(\.id)) { status.set(settled: true) }
    }

    /// Requests a dead predecessor accepted and never answered, newest per device (the older
    /// ones end as superseded). An attribute request the module no longer shows pending was
    /// finished before the crash: its outcome is in the journal already.
    func resume(
        _ taken: [RequestRecord], executor: RequestExecutor, scheduler: RequestScheduler, report: RequestScheduler.Report
    ) -> [FlavourRequest] {
        var newest: [PCIAddress: UInt64] = [:]
        for record in taken { newest[record.address] = record.id }
        var queued: [FlavourRequest] = []
        for record in taken {
            let request = FlavourRequest(
                address: record.address, requested: executor.resolve(record.flavour) ?? .revert, origin: record.origin,
                uuid: record.uuid, options: record.options, sequence: record.sequence, id: record.id)
            if let sequence = record.sequence, executor.sysfs.driverFlavour(of: record.address) != nil,
               !Self.isPending(sequence, on: record.address, sysfs: executor.sysfs) {
                requests.finish(request)
                continue
            }
            guard newest[record.address] == record.id else {
                report(request, .superseded)
                continue
            }
            guard executor.resolve(record.flavour) != nil else {
                reject(record.address, value: record.flavour, reason: "unknown flavour '\(record.flavour)'; known: \(executor.knownFlavours)",
                       uuid: record.uuid, sequence: record.sequence)
                requests.finish(request)
                continue
            }
            if scheduler.submit(request) == .queued { queued.append(request) }
        }
        if !taken.isEmpty {
            logger.notice("Requests taken over from a stopped flavourd", metadata: [
                "requests": "\(taken.count)", "queued": "\(queued.count)",
            ])
        }
        return queued
    }

    /// Requests written to driver_flavour that nobody has carried out (written while
    /// flavourd was stopped, or lost with their uevent): each device's pending request, unless
    /// the scheduler already holds it. One read per device, no more.
    func pendingAttributeRequests(executor: RequestExecutor, scheduler: RequestScheduler) -> [FlavourRequest] {
        let sysfs = executor.sysfs
        var queued: [FlavourRequest] = []
        for name in sysfs.list(PCIPaths.devices) {
            guard let address = try? PCIAddress(parsing: name),
                  case .pending(let value, let sequence)? = sysfs.driverFlavour(of: address),
                  !scheduler.holds(address, where: { $0.sequence == sequence })
            else { continue }
            guard let requested = executor.resolve(value) else {
                reject(address, value: value, reason: "unknown flavour '\(value)'; known: \(executor.knownFlavours)",
                       uuid: nil, sequence: sequence)
                continue
            }
            if let request = accept(
                FlavourRequest(address: address, requested: requested, origin: .attribute, sequence: sequence), scheduler: scheduler) {
                queued.append(request)
            }
        }
        return queued
    }

    /// Every present device a standing request covers, unless it is already as requested or
    /// has a request of its own waiting or running (which stays: a reload then adds nothing
    /// for a device `flavourctl set --persist` is moving). PFs whose every future VF the
    /// requests cover get `sriov_drivers_autoprobe` 0 first (`VFAutoprobe`, which also turns
    /// it back on when the requests change). With `pin` (at start), a covered device without
    /// a driver gets its first candidate's driver in driver_override at once, before READY:
    /// udev's coldplug trigger, which waits for READY, may load its default driver's module,
    /// and that driver must not take it first.
    func coldplug(executor: RequestExecutor, scheduler: RequestScheduler, pin: Bool) -> [FlavourRequest] {
        let standing = executor.config.requests
        let autoprobe = autoprobe(executor.sysfs)
        var covered: [PCIAddress: String] = [:]  // for the fleet files, satisfied or not
        defer { fleet.setCovered(covered) }
        guard !standing.isEmpty || autoprobe.hasMarkers else { return [] }
        var queued: [FlavourRequest] = []
        for device in executor.sysfs.pciDevices() {
            autoprobe.update(device, requests: standing)
            guard let (requested, options) = Self.standingRequest(for: device, in: executor) else { continue }
            covered[device.address] = requested.description
            guard !scheduler.holds(device.address), !Self.isSatisfied(device, requested, options: options, executor: executor)
            else { continue }
            if pin, device.driver == nil, case .flavour(let flavour) = requested { self.pin(device, flavour: flavour, executor: executor) }
            if let request = accept(
                FlavourRequest(address: device.address, requested: requested, origin: .coldplug, options: options),
                scheduler: scheduler, onlyIfIdle: true) {
                queued.append(request)
            }
        }
        return queued
    }

    /// Records the request and queues it; nil when the scheduler did not take it. A request
    /// not taken because the daemon stops stays recorded for the next start; one not taken
    /// because the device is busy (`onlyIfIdle`) was never queued and leaves no record.
    @discardableResult
    func accept(_ request: FlavourRequest, scheduler: RequestScheduler, onlyIfIdle: Bool = false) -> FlavourRequest? {
        let recorded = requests.accept(request)
        if let failure = requests.takeFailure() {
            logger.error("Request journal unwritable: requests are carried out but would not survive a restart", metadata: [
                "reason": "\(failure)",
            ])
        }
        switch scheduler.submit(recorded, onlyIfIdle: onlyIfIdle) {
        case .queued: return recorded
        case .busy: requests.finish(recorded)
        case .stopping: break
        }
        return nil
    }

    /// Whether the device is already as the standing request asks: on a driver of one of the
    /// flavour's candidate modules, with an override that names it. (A `group` request is
    /// always queued: its other members are not looked at here.)
    static func isSatisfied(_ device: PCIDevice, _ requested: RequestedFlavour, options: RequestOptions, executor: RequestExecutor) -> Bool {
        guard !options.group, case .flavour(let flavour) = requested, let driver = device.driver.flatMap(DriverName.init),
              device.driverOverride == driver.rawValue, let module = executor.sysfs.module(ofDriver: driver)
        else { return false }
        return executor.plan(for: device, flavour: flavour).candidates.contains { $0.module == module }
    }

    /// Writes the first candidate's driver name to the device's driver_override (loading its
    /// module if need be), so that no other driver probes it before its bind; the bind is
    /// queued. Best effort: without it the bind still comes, only maybe after a default
    /// driver probed. Undone when the request fails (`unpin`).
    func pin(_ device: PCIDevice, flavour: Flavour, executor: RequestExecutor) {
        guard device.driverOverride == nil, let candidate = executor.plan(for: device, flavour: flavour).candidates.first else { return }
        let sysfs = executor.sysfs
        if !sysfs.isLive(candidate.module) { try? executor.binder.loader.load(candidate.module) }
        guard let driver = sysfs.pciDrivers(ofModule: candidate.module, waitingUpTo: .seconds(2)).first else { return }
        do {
            try sysfs.write(driver.rawValue, to: PCIPaths.attribute("driver_override", of: device.address))
            state.pinned(device.address, to: driver.rawValue)
            logger.info("Device held for its standing request", metadata: [
                "pci.slot_name": "\(device.address)", "driver": "\(driver)", "driver.flavour": "\(flavour.name)",
            ])
        } catch {
            logger.warning("Could not hold a device for its standing request", metadata: [
                "pci.slot_name": "\(device.address)", "driver": "\(driver)", "reason": "\(error)",
            ])
        }
    }

    /// A pinned device whose request failed: the override the start wrote goes, and the
    /// kernel may give the device its default driver, as it would have without flavourd.
    static func unpin(_ address: PCIAddress, _ driver: String, sysfs: Sysfs) {
        guard sysfs.driverOverride(address) == driver, sysfs.boundDriver(address) == nil else { return }
        try? sysfs.write("\n", to: PCIPaths.attribute("driver_override", of: address))
        try? sysfs.write(address.description, to: PCIPaths.driversProbe)
    }

    func autoprobe(_ sysfs: Sysfs) -> VFAutoprobe {
        VFAutoprobe(sysfs: sysfs, markers: settings.runDirectory.autoprobeOff, logger: logger)
    }

    static func standingRequest(
        for device: PCIDevice, in executor: RequestExecutor
    ) -> (RequestedFlavour, RequestOptions)? {
        guard let request = executor.config.requests.first(where: { $0.covers(address: device.address, modalias: device.modalias) }),
              let flavour = executor.config.flavour(named: request.flavourName)
        else { return nil }
        return (.flavour(flavour), request.options)
    }

    /// Whether driver_flavour still shows request `sequence` pending on the device.
    static func isPending(_ sequence: UInt64, on address: PCIAddress, sysfs: Sysfs) -> Bool {
        if case .pending(_, let current)? = sysfs.driverFlavour(of: address) { return current == sequence }
        return false
    }
}
