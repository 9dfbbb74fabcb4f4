import FlavourCore
import FlavourEngine
import Logging

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
    /// The metrics and node labels fleets read (flavourd(8), "Fleets").
    public let fleet: FleetPublisher
    let state = ServiceState()

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
        self.fleet = FleetPublisher(
            sysfs: Sysfs(root: settings.sysfsRoot, writer: writer), clock: settings.publishClock, logger: logger)
        self.outcomes = OutcomeLog(logger: logger, fleet: fleet)
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
        configureFleet(loaded.config)
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
        fleet.write()  // the first files, before coldplug changes anything
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
        fleet.stop()
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
}
