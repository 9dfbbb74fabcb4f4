import FlavourCore
import FlavourEngine
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc  // EBUSY (reflect)
#endif

/// flavourd: hears PCI uevents, turns them into requests, and carries them out.
/// Start-up: read config and the match table, start listening, apply standing requests
/// to the devices present (coldplug), then tell systemd READY=1. `shutdown()` (SIGTERM)
/// stops listening and lets the binds in flight finish, so no device is left half-bound;
/// `run()` returns after that.
public final class FlavourService: Sendable {
    public typealias LoaderFactory = @Sendable (_ modulesDirectory: String) throws -> any ModuleLoader

    let settings: DaemonSettings
    let source: any DeviceEventSource
    let makeLoader: LoaderFactory
    let writer: any SysfsWriter
    let notifier: any DaemonNotifier
    /// Called once start-up is done and after each reload, when parsing the match table
    /// has freed a lot: flavourd gives the heap's free pages back to the kernel.
    let releaseFreeMemory: @Sendable () -> Void
    let logger: Logger
    let outcomes: OutcomeLog
    public let status: DaemonStatus
    private let state = ServiceState()

    public init(
        settings: DaemonSettings, source: any DeviceEventSource, makeLoader: @escaping LoaderFactory,
        writer: any SysfsWriter, notifier: any DaemonNotifier, releaseFreeMemory: @escaping @Sendable () -> Void = {},
        logger: Logger
    ) {
        self.settings = settings
        self.source = source
        self.makeLoader = makeLoader
        self.writer = writer
        self.notifier = notifier
        self.releaseFreeMemory = releaseFreeMemory
        self.logger = logger
        self.outcomes = OutcomeLog(logger: logger)
        self.status = DaemonStatus(path: settings.runDirectory.statusFile)
        self.journal = InFlightJournal(directory: settings.runDirectory.inFlight)
    }

    var sysfs: Sysfs { Sysfs(root: settings.sysfsRoot, writer: writer) }
    /// The crash journal: records of this process's binds in flight, and the device locks.
    let journal: InFlightJournal

    /// Reads config and the match table into a new executor; throws on a broken config.
    func makeExecutor() throws -> RequestExecutor {
        let tableLoader = MatchTableLoader(configDirectory: settings.configDirectory, modulesDirectory: settings.modulesDirectory)
        let loaded = try tableLoader.load()
        for warning in loaded.warnings {
            logger.warning("Match table line skipped", metadata: ["reason": "\(warning)"])
        }
        let moduleLoader = try makeLoader(settings.modulesDirectory)
        let sysfs = sysfs
        logger.info("Match table loaded", metadata: [
            "aliases": "\(loaded.table.count)", "flavours": "\(loaded.config.flavours.keys.sorted().joined(separator: ","))",
            "standing_requests": "\(loaded.config.requests.count)", "modules_dir": "\(settings.modulesDirectory)",
        ])
        return RequestExecutor(
            sysfs: sysfs, binder: Binder(sysfs: sysfs, loader: moduleLoader, logger: logger, steps: journal),
            config: loaded.config, table: loaded.table, procRoot: settings.procRoot)
    }

    public func run() async throws {
        let executor: RequestExecutor
        do { executor = try makeExecutor() } catch {
            logger.critical("Configuration unusable", metadata: ["reason": "\(error)"])
            throw error
        }
        let status = status
        let outcomes = outcomes
        let sysfs = sysfs
        let scheduler = RequestScheduler(
            executor: executor, maxInFlight: settings.maxInFlight,
            observe: { _, _ in status.queueChanged() }
        ) { request, outcome in
            outcomes.record(request, outcome)
            Self.reflect(request, outcome, sysfs: sysfs)
            status.record(request, outcome)
        }
        let stopRequested = state.install(scheduler)
        if stopRequested { await scheduler.stop() }
        status.watch { scheduler.snapshot() }
        // Binds a killed predecessor left half-done go back first, before any new request.
        let recovered = journal.recover(binder: executor.binder, logger: logger)
        if !recovered.isEmpty { notifier.status("Rolled back \(recovered.count) interrupted bind(s)") }
        let events = try source.start()
        status.set(source: source.name, standing: executor.config.requests)
        notifier.status("Applying standing requests to present devices")
        await coldplug(executor: executor, scheduler: scheduler)
        await scheduler.idle()
        releaseFreeMemory()  // what parsing the match table and coldplug freed
        status.set(state: "ready")
        notifier.ready(status: "Listening for flavour requests (\(source.name) events)")
        logger.info("Ready", metadata: ["source": "\(source.name)"])

        // shutdown() before the source started could not stop it: stop it now.
        if state.shuttingDown { source.stop() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events { await self.handle(event, scheduler: scheduler) }
            }
            let notifier = self.notifier
            if let interval = notifier.watchdogInterval {
                group.addTask {
                    while !Task.isCancelled {
                        notifier.watchdog()
                        try? await Task.sleep(for: interval / 2)
                    }
                }
            }
            await group.next()  // the event stream ended: shutting down
            group.cancelAll()
        }
        notifier.stopping(status: "Finishing binds in flight")
        status.set(state: "stopping")
        let inFlight = scheduler.inFlight.count
        logger.info("Stopping", metadata: ["in_flight": "\(inFlight)"])
        await scheduler.stop()
        journal.close()
        status.flush(final: true)
    }

    /// Graceful shutdown (SIGTERM): take no new requests; what is still buffered is answered
    /// as dropped, what is queued is dropped now, and only the binds in flight run to their
    /// end. `run()` returns once they have. Callable from any thread, any number of times.
    public func shutdown() {
        let (first, scheduler) = state.beginShutdown()
        guard first else { return }
        source.stop()
        if let scheduler { Task { await scheduler.stop() } }
    }

    /// Re-reads config and the match table (SIGHUP, `systemctl reload`). A broken config
    /// keeps the old one.
    public func reload() async {
        guard let scheduler = state.scheduler else { return }
        notifier.reloading()
        do {
            let executor = try makeExecutor()
            scheduler.replaceExecutor(executor)
            status.set(source: source.name, standing: executor.config.requests)
            logger.info("Configuration reloaded")
            await coldplug(executor: executor, scheduler: scheduler)
        } catch {
            logger.error("Reload failed, keeping the previous configuration", metadata: ["reason": "\(error)"])
        }
        releaseFreeMemory()  // the parse's garbage and the old table
        notifier.ready(status: "Listening for flavour requests (\(source.name) events)")
    }

    /// Every present device a standing request covers; and PFs whose every future VF it
    /// covers get `sriov_drivers_autoprobe` 0 first, so no default driver ever probes those
    /// VFs (`VFAutoprobe`, which also turns it back on when the requests change).
    func coldplug(executor: RequestExecutor, scheduler: RequestScheduler) async {
        let requests = executor.config.requests
        let autoprobe = autoprobe(executor.sysfs)
        guard !requests.isEmpty || autoprobe.hasMarkers else { return }
        for device in executor.sysfs.pciDevices() {
            autoprobe.update(device, requests: requests)
            if let (requested, options) = Self.standingRequest(for: device, in: executor) {
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

/// The scheduler, once running (reload and shutdown need it), and whether shutdown has begun.
final class ServiceState: Sendable {
    private struct Value {
        var scheduler: RequestScheduler?
        var shuttingDown = false
    }

    private let value = Mutex(Value())

    var scheduler: RequestScheduler? { value.withLock { $0.scheduler } }
    var shuttingDown: Bool { value.withLock { $0.shuttingDown } }

    /// Records the running scheduler; true when shutdown was asked for before it ran.
    func install(_ scheduler: RequestScheduler) -> Bool {
        value.withLock {
            $0.scheduler = scheduler
            return $0.shuttingDown
        }
    }

    /// Marks shutdown begun: whether this call was the first, and the scheduler if one runs.
    func beginShutdown() -> (first: Bool, scheduler: RequestScheduler?) {
        value.withLock { value in
            defer { value.shuttingDown = true }
            return (!value.shuttingDown, value.scheduler)
        }
    }
}
