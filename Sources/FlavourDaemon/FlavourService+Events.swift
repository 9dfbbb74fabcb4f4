import FlavourCore
import FlavourEngine

#if canImport(Glibc)
import Glibc  // EBUSY (reflect)
#endif

/// What flavourd does with each event: a flavour request goes to the scheduler, a device's
/// `add` may fall under a standing request, a `remove` drops its waiting request; and the
/// standing requests applied to every present device at start and on reload (coldplug).
extension FlavourService {
    /// Every present device a standing request covers; and PFs whose every future VF it
    /// covers get `sriov_drivers_autoprobe` 0 first, so no default driver ever probes those
    /// VFs (`VFAutoprobe`, which also turns it back on when the requests change).
    func coldplug(executor: RequestExecutor, scheduler: RequestScheduler) async {
        let requests = executor.config.requests
        let autoprobe = autoprobe(executor.sysfs)
        var covered: [PCIAddress: String] = [:]
        defer { fleet.setCovered(covered) }
        guard !requests.isEmpty || autoprobe.hasMarkers else { return }
        for device in executor.sysfs.pciDevices() {
            autoprobe.update(device, requests: requests)
            if let (requested, options) = Self.standingRequest(for: device, in: executor) {
                covered[device.address] = requested.description
                scheduler.submit(FlavourRequest(
                    address: device.address, requested: requested, origin: .coldplug, options: options))
            }
        }
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

    func handle(_ event: DeviceEvent, scheduler: RequestScheduler) async {
        let request = UeventRequest(action: event.action, sysName: event.sysName, properties: event.properties)
        if state.shuttingDown {
            if case let .flavour(address, value, origin) = request {
                let uuid = event.properties["SYNTH_UUID"]
                guard let requested = scheduler.currentExecutor.resolve(value) else {
                    await reject(address, event: event, value: value, reason: "unknown flavour '\(value)'", uuid: uuid)
                    return
                }
                let dropped = FlavourRequest(address: address, requested: requested, origin: origin, uuid: uuid)
                outcomes.record(dropped, .dropped("the daemon is stopping"))
                status.record(dropped, .dropped("the daemon is stopping"))
            }
            return
        }
        fleetSees(event, request, executor: scheduler.currentExecutor)
        switch request {
        case let .flavour(address, value, origin):
            let executor = scheduler.currentExecutor
            guard let requested = executor.resolve(value) else {
                await reject(address, event: event, value: value,
                             reason: "unknown flavour '\(value)'; known: \(executor.knownFlavours)", uuid: event.properties["SYNTH_UUID"])
                return
            }
            scheduler.submit(FlavourRequest(
                address: address, requested: requested, origin: origin, uuid: event.properties["SYNTH_UUID"]))
        case let .added(address, _):
            let executor = scheduler.currentExecutor
            guard let device = try? executor.sysfs.pciDevice(address) else { return }
            autoprobe(executor.sysfs).update(device, requests: executor.config.requests)
            if let (requested, options) = Self.standingRequest(for: device, in: executor) {
                scheduler.submit(FlavourRequest(address: address, requested: requested, origin: .hotplug, options: options))
            }
        case .removed(let address):
            scheduler.deviceRemoved(address)
        case .invalid(let reason):
            outcomes.rejected(
                device: event.sysName, value: event.properties[UeventRequest.attributeKey]
                    ?? event.properties[UeventRequest.syntheticKey], reason: reason)
        case .ignored:
            break
        }
    }

    /// Logs a refused request and records it for `flavourctl set`.
    func reject(_ address: PCIAddress, event: DeviceEvent, value: String, reason: String, uuid: String?) async {
        outcomes.rejected(device: event.sysName, value: value, reason: reason, uuid: uuid)
        status.rejected(address, value: value, uuid: uuid, reason: reason)
    }

    /// Keeps the driver_flavour attribute (where the kernel module provides it) honest:
    /// after a revert or a failed request it is cleared with `-<the value read>`, which sends
    /// no uevent and clears only while the attribute still holds that value.
    static func reflect(_ request: FlavourRequest, _ outcome: RequestOutcome, sysfs: Sysfs) {
        guard case .done(let bind) = outcome, !bind.succeeded || request.requested == .revert else { return }
        let attribute = PCIPaths.attribute("driver_flavour", of: request.address)
        guard let current = try? sysfs.read(attribute), !current.isEmpty else { return }
        do {
            try sysfs.write("-" + current, to: attribute)
        } catch where error.errno == EBUSY {
            // A newer request was written since the read: leave it; its own uevent is on the way.
        } catch {
            // The module unloaded or the device went away: nothing left to clear.
        }
    }
}
