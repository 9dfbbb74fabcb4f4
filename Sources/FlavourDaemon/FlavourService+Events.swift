import FlavourCore
import FlavourEngine
import Logging

#if canImport(Glibc)
import Glibc  // EBUSY (reflect)
#endif

/// What flavourd does with each event: a flavour request is recorded and goes to the
/// scheduler, a device's `add` may fall under a standing request, a `remove` drops its
/// waiting request, and news of lost events starts a resync.
extension FlavourService {
    func handle(_ event: DeviceEvent, scheduler: RequestScheduler) async {
        if event.eventsLost {
            // The kernel-add socket beside the udev one overran: udevd's copies of the lost adds
            // still come on the udev socket (no SEQNUM is remembered for them, so they are
            // handled), and that socket's own overrun resyncs. Nothing to do but say so.
            if event.heard == .kernel {
                logger.debug("Kernel add monitor overran: udevd's copies of the lost adds follow", metadata: ["source": "\(source.name)"])
                return
            }
            resync(scheduler: scheduler)
            return
        }
        let request = UeventRequest(action: event.action, sysName: event.sysName, properties: event.properties)
        if case .added = request, !isFirstCopy(of: event) { return }
        fleetSees(event, request, executor: scheduler.currentExecutor)
        switch request {
        case let .flavour(address, value, origin):
            let executor = scheduler.currentExecutor
            let uuid = event.properties["SYNTH_UUID"]
            let sequence = origin == .attribute ? event.properties[DriverFlavourState.sequenceKey].flatMap { UInt64($0) } : nil
            // Taken already (by the start's or a resync's read of the attribute), or replaced
            // in the attribute by a newer request, whose own event follows: nothing to do.
            if let sequence,
               scheduler.holds(address, where: { $0.sequence == sequence }) || !Self.isPending(sequence, on: address, sysfs: executor.sysfs) {
                return
            }
            guard let requested = executor.resolve(value) else {
                reject(address, value: value, reason: "unknown flavour '\(value)'; known: \(executor.knownFlavours)",
                       uuid: uuid, sequence: sequence)
                return
            }
            accept(FlavourRequest(address: address, requested: requested, origin: origin, uuid: uuid, sequence: sequence),
                   scheduler: scheduler)
        case let .added(address, modalias):
            let executor = scheduler.currentExecutor
            let requests = executor.config.requests
            let autoprobe = autoprobe(executor.sysfs)
            // Most adds concern no request (a VF of a PF nobody asked for): that is decided from
            // the event's address and MODALIAS, and at most one stat for a PF's autoprobe,
            // before the device is read.
            let mayBeCovered = requests.contains {
                $0.covers(address: address, modalias: modalias) || (modalias == nil && $0.selector.isModalias)
            }
            guard mayBeCovered || autoprobe.mayChange(address, requests: requests),
                  let device = try? executor.sysfs.pciDevice(address)
            else { return }
            autoprobe.update(device, requests: requests)
            if let (requested, options) = Self.standingRequest(for: device, in: executor) {
                let request = FlavourRequest(address: address, requested: requested, origin: .hotplug, options: options)
                // A new VF: its PF may be creating more; the bind waits until it is done. So does
                // a device the kernel is still adding (no procfs entry yet): a VF's `physfn` link
                // comes after its `add` (pci_iov_add_virtfn), so it may be one.
                if let pf = device.physicalFunction {
                    hold(request, pf: pf)
                } else if executor.binder.isFullyAdded(address) == false {
                    hold(request, pf: nil)
                } else {
                    accept(request, scheduler: scheduler, onlyIfIdle: true)
                }
            }
        case .changed(let address):
            heldVFs.ended(address)  // a PF's VFs all created: what waited for them may go
        case .removed(let address):
            // A `remove` heard late, after the device came back (a VF re-created, a function
            // rescanned): the device is there, and its waiting request stays.
            guard !scheduler.currentExecutor.sysfs.exists(PCIPaths.device(address)) else { return }
            heldVFs.ended(address)
            if heldVFs.removed(address) {
                logger.debug("Held request dropped: the VF was removed", metadata: ["pci.slot_name": "\(address)"])
                status.queueChanged()
            }
            scheduler.deviceRemoved(address)
        case .invalid(let reason):
            outcomes.rejected(
                device: event.sysName, value: event.properties[UeventRequest.attributeKey]
                    ?? event.properties[UeventRequest.syntheticKey], reason: reason)
        case .ignored:
            break
        }
    }

    /// Whether an `add` is the first copy heard, when the source hears both the kernel's group
    /// and udevd's: the first is remembered by its SEQNUM and acted on, and the other group's
    /// copy of it is dropped, so a device gets one request, one outcome (`KernelAddSeqnums`).
    /// Only an `add` that asks for nothing is deduplicated: udevd's copy that a rule gave
    /// DRIVER_FLAVOUR is a request (`.flavour`), never a copy here. (A PF's `change` needs no
    /// such care: the second copy finds its creation ended already, `HeldVFs.ended`.)
    func isFirstCopy(of event: DeviceEvent) -> Bool {
        guard source.hearsKernelAdds else { return true }
        let fromKernel = event.heard == .kernel
        guard !kernelAdds.withLock({ $0.isFirst(event.seqnum, fromKernel: fromKernel) }) else { return true }
        logger.debug(fromKernel ? "The kernel's add after udevd's copy dropped" : "udevd's copy of a kernel add dropped",
                     metadata: ["pci.slot_name": "\(event.sysName)", "uevent.seqnum": "\(event.seqnum)"])
        return false
    }

    /// Holds a standing request for a new VF until its PF (and any other PF heard creating VFs)
    /// is done (`VFCreations`): binds made while the kernel creates VFs compete with it.
    func hold(_ request: FlavourRequest, pf: PCIAddress?) {
        let first = heldVFs.hold(request, pf: pf)
        status.queueChanged()  // status.json counts the held requests
        guard first, let pf else { return }
        logger.debug("VF binds wait for the PF to finish creating VFs", metadata: [
            "pci.slot_name": "\(pf)", "vf": "\(request.address)",
        ])
    }

    /// The PFs are done creating VFs (or a request waited `limit`): the held requests go to the
    /// scheduler, each unless the device has a request of its own by now.
    func releaseHeldVFs(_ release: HeldVFs.Release) {
        guard let scheduler = state.scheduler else { return }
        var queued = 0
        for request in release.held where accept(request, scheduler: scheduler, onlyIfIdle: true) != nil { queued += 1 }
        status.queueChanged()  // fewer held, even when none was queued
        let message: Logger.Message = release.creationsDone
            ? "Held VF requests released: the PFs finished creating VFs"
            : "Held VF requests released: they waited the longest a request is held"
        logger.log(level: release.creationsDone ? .info : .notice, message, metadata: [
            "pci.physfn": "\(release.physicalFunctions.map(\.description).joined(separator: ","))",
            "requests": "\(release.held.count)", "queued": "\(queued)",
            "held.ms": "\(release.waited.components.seconds * 1000 + release.waited.components.attoseconds / 1_000_000_000_000_000)",
        ])
    }

    /// The monitor lost uevents (its receive buffer overran): what they asked for is read
    /// from sysfs instead. driver_flavour holds each device's newest request, standing
    /// requests cover added devices, and VF autoprobe is brought in line; a synthetic request
    /// leaves no trace in sysfs, so those lost stay lost, and the journal says so.
    func resync(scheduler: RequestScheduler) {
        let lost = JournalNotice.eventsLost
        logger.log(level: lost.level, lost.message, metadata: ["message_id": "\(lost.messageID)", "source": "\(source.name)"])
        let clock = ContinuousClock()
        let start = clock.now
        let executor = scheduler.currentExecutor
        var queued = pendingAttributeRequests(executor: executor, scheduler: scheduler)
        queued += coldplug(executor: executor, scheduler: scheduler, pin: false)
        let elapsed = clock.now - start
        let done = JournalNotice.resynced
        logger.log(level: done.level, done.message, metadata: [
            "message_id": "\(done.messageID)", "resync.ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            "resync.requests": "\(queued.count)", "resync.devices": "\(executor.sysfs.list(PCIPaths.devices).count)",
        ])
        fleet.resynced(afterOverrun: true)
    }

    /// Logs a request refused before it reached the scheduler, records it for `flavourctl
    /// set`, and clears it from driver_flavour when it came from there.
    func reject(_ address: PCIAddress, value: String, reason: String, uuid: String?, sequence: UInt64?) {
        outcomes.rejected(device: address.description, value: value, reason: reason, uuid: uuid)
        status.rejected(address, value: value, uuid: uuid, reason: reason)
        if let sequence {
            try? sysfs.write(DriverFlavourState.finish(sequence, carriedOut: false), to: PCIPaths.attribute("driver_flavour", of: address))
        }
    }

    /// Keeps the driver_flavour attribute (where the kernel module provides it) honest.
    /// An attribute request is finished by its sequence number: `done N` when the device
    /// ended as asked, `clear N` otherwise; the module refuses either (EBUSY) when a newer
    /// request was written since, which then stands. After a request of another origin that
    /// left the device without the flavour the attribute claims (a revert, another flavour, a
    /// failure), that finished flavour is cleared with `-NAME`, never a pending request.
    static func reflect(_ request: FlavourRequest, _ outcome: RequestOutcome, sysfs: Sysfs) {
        let attribute = PCIPaths.attribute("driver_flavour", of: request.address)
        if let sequence = request.sequence {
            if case .dropped = outcome { return }  // the device went away, and the attribute with it
            try? sysfs.write(DriverFlavourState.finish(sequence, carriedOut: outcome.kind.succeeded), to: attribute)
            return
        }
        guard case .done(let bind) = outcome, case .done(let claimed)? = sysfs.driverFlavour(of: request.address),
              !bind.succeeded || request.requested.description != claimed
        else { return }
        do {
            try sysfs.write(DriverFlavourState.clear(ifDone: claimed), to: attribute)
        } catch where error.errno == EBUSY {
            // A request was written since the read: it stays; its own uevent is on the way.
        } catch {
            // The module unloaded or the device went away: nothing left to clear.
        }
    }
}
