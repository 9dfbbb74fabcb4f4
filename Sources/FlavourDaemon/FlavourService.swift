import FlavourCore
import FlavourEngine
import Logging
import Synchronization

/// flavourd: hears PCI uevents, turns them into requests, and carries them out.
///
/// Start-up (`FlavourService+StartUp`): read config and the match table, settle the binds a
/// killed predecessor left half done, take over the requests it accepted and never answered,
/// start listening, queue what driver_flavour attributes still ask for and what standing
/// requests cover (setting driver_override first on covered devices that have no driver
/// yet), then tell systemd READY=1 without waiting for a bind: a driver whose probe hangs
/// must not hold up the boot. status.json says `settled` once the start's requests have
/// ended (`flavourctl settle`). `shutdown()` (SIGTERM) stops listening and lets the binds
/// in flight finish, so no device is left half-bound; the requests still waiting stay in
/// the request journal for the next start. `run()` returns after that.
public final class FlavourService: Sendable {
    public typealias LoaderFactory = @Sendable (_ modulesDirectory: String) throws -> any ModuleLoader

    let settings: DaemonSettings
    let source: any DeviceEventSource
    let makeLoader: LoaderFactory
    let writer: any SysfsWriter
    /// What the in-use guard asks the kernel about device nodes and open files.
    let probe: any HostProbe
    let notifier: any DaemonNotifier
    /// Called once start-up is done, after each reload, when parsing the match table has
    /// freed a lot, and when the scheduler falls idle after a burst of requests
    /// (`HeapTrimRule`): flavourd gives the heap's free pages back to the kernel.
    let releaseFreeMemory: @Sendable () -> Void
    let heap: HeapTrimmer
    let logger: Logger
    let outcomes: OutcomeLog
    public let status: DaemonStatus
    /// The metrics and node labels fleets read (flavourd(8), "Fleets").
    public let fleet: FleetPublisher
    let state = ServiceState()
    /// The kernel's `add`s handled ahead of udevd, whose copies are then dropped.
    let kernelAdds = Mutex(KernelAddSeqnums())
    /// The crash journal: records of this process's binds in flight, and the device locks.
    let journal: InFlightJournal
    /// Every request accepted and not yet answered (`RUN_DIR/requests/`).
    public let requests: RequestJournal
    /// Standing requests for new VFs, waiting for their PFs to finish creating VFs.
    let heldVFs: HeldVFs

    public init(
        settings: DaemonSettings, source: any DeviceEventSource, makeLoader: @escaping LoaderFactory,
        writer: any SysfsWriter, probe: any HostProbe, notifier: any DaemonNotifier,
        releaseFreeMemory: @escaping @Sendable () -> Void = {}, logger: Logger
    ) {
        self.settings = settings
        self.source = source
        self.makeLoader = makeLoader
        self.writer = writer
        self.probe = probe
        self.notifier = notifier
        self.releaseFreeMemory = releaseFreeMemory
        self.heap = HeapTrimmer(release: releaseFreeMemory)
        self.logger = logger
        self.fleet = FleetPublisher(
            sysfs: Sysfs(root: settings.sysfsRoot, writer: writer), clock: settings.publishClock, logger: logger)
        self.outcomes = OutcomeLog(logger: logger, fleet: fleet)
        self.status = DaemonStatus(path: settings.runDirectory.statusFile)
        self.journal = InFlightJournal(directory: settings.runDirectory.inFlight)
        self.requests = RequestJournal(directory: settings.runDirectory.requests)
        self.heldVFs = HeldVFs(timing: settings.vfCreation)
        heldVFs.onRelease { [weak self] going in self?.releaseHeldVFs(going) }
    }

    var sysfs: Sysfs { Sysfs(root: settings.sysfsRoot, writer: writer) }

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
            sysfs: sysfs, binder: Binder(sysfs: sysfs, loader: moduleLoader, logger: logger, steps: journal, procRoot: settings.procRoot),
            config: loaded.config, table: loaded.table, procRoot: settings.procRoot, probe: probe)
    }

    /// How every request ends: one journal entry, the driver_flavour attribute told (for an
    /// attribute request) or kept honest, status.json, the request journal's record ended, a
    /// pin the start set undone when the request failed. Captures no service, so a stopped
    /// daemon's scheduler holds nothing alive.
    func makeReport() -> RequestScheduler.Report {
        let (outcomes, sysfs, status, requests, state, notifier, source, heap) =
            (outcomes, sysfs, status, requests, state, notifier, source.name, heap)
        return { request, outcome in
            outcomes.record(request, outcome)
            heap.outcome()
            Self.reflect(request, outcome, sysfs: sysfs)
            if let pin = state.unpin(request.address), !outcome.kind.succeeded { Self.unpin(request.address, pin, sysfs: sysfs) }
            status.record(request, outcome)
            requests.finish(request)
            if state.ended(request.id) {
                status.set(settled: true)
                notifier.status("Listening for flavour requests (\(source) events); start-up requests done")
            }
        }
    }

    public func run() async throws {
        let executor: RequestExecutor
        do { executor = try makeExecutor() } catch {
            logger.critical("Configuration unusable", metadata: ["reason": "\(error)"])
            throw error
        }
        let status = status
        let logger = logger
        let report = makeReport()
        let scheduler = RequestScheduler(
            executor: executor, maxInFlight: settings.maxInFlight, stuckAfter: settings.stuckAfter,
            observe: { [heap] inFlight, queued in
                status.queueChanged()
                heap.queueChanged(inFlight: inFlight, queued: queued)  // idle after a burst: what it freed goes back
            },
            stuck: { [fleet] request, elapsed in
                logger.log(level: JournalNotice.stuck.level, JournalNotice.stuck.message, metadata: [
                    "message_id": "\(JournalNotice.stuck.messageID)", "pci.slot_name": "\(request.address)",
                    "driver.flavour": "\(request.requested)", "request.origin": "\(request.origin.rawValue)",
                    "stuck.seconds": "\(elapsed.components.seconds)",
                ].merging(request.uuid.map { ["synth.uuid": "\($0)"] } ?? [:]) { $1 })
                status.queueChanged()
                fleet.stuck(request.address)
            },
            report: report)
        fleet.write()  // the first files, before the start changes anything
        let stopRequested = state.install(scheduler)
        if stopRequested { await scheduler.stop() }
        status.watch({ scheduler.snapshot() }, held: { [heldVFs] in heldVFs.snapshot() }, written: { [heap] in heap.statusWritten() })
        // Binds a killed predecessor left half-done go back first, before any new request.
        let recovered = journal.recover(binder: executor.binder, logger: logger)
        if !recovered.isEmpty { notifier.status("Rolled back \(recovered.count) interrupted bind(s)") }
        // Then the requests it took on: recorded in this process's journal before its file goes.
        let taken = requests.recover()
        listenForKernelAdds(executor.config)
        let events = try source.start()
        status.set(source: source.name, standing: executor.config.requests)
        notifier.status("Applying standing requests to present devices")
        await startUp(taken: taken, executor: executor, scheduler: scheduler, report: report)
        heap.trim()  // what parsing the match table and coldplug freed
        status.set(state: "ready")
        notifier.ready(status: "Listening for flavour requests (\(source.name) events)")
        logger.info("Ready", metadata: ["source": "\(source.name)", "requests_taken_over": "\(taken.count)"])

        // shutdown() before the source started could not stop it: stop it now.
        if state.shuttingDown { source.stop() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events { await self.handle(event, scheduler: scheduler) }
            }
            let notifier = self.notifier
            if let interval = notifier.watchdogInterval {
                group.addTask { await self.feedWatchdog(every: interval / 2, scheduler: scheduler) }
            }
            await group.next()  // the event stream ended: shutting down
            group.cancelAll()
        }
        notifier.stopping(status: "Finishing binds in flight")
        status.set(state: "stopping")
        let snapshot = scheduler.snapshot()
        logger.info("Stopping", metadata: ["in_flight": "\(snapshot.inFlight.count)", "queued": "\(snapshot.queuedCount)"])
        let held = heldVFs.drop()
        if held > 0 {
            logger.notice("Requests held for VF creations dropped: the next start's standing requests cover the VFs", metadata: [
                "requests": "\(held)",
            ])
        }
        await scheduler.stop()
        state.uninstall()
        // Whoever stopped the scheduler first (shutdown() or this), what waits is in the journal.
        let kept = requests.pending.count
        if kept > 0 {
            logger.notice("Requests kept for the next start", metadata: [
                "requests": "\(kept)", "journal": "\(settings.runDirectory.requests)",
            ])
        }
        journal.close()
        requests.close()
        fleet.stop()
        status.flush(final: true)
    }

    /// systemd's watchdog, fed only while the scheduler gets on: nothing waits that could
    /// start, or a request started or ended since the last look. A scheduler that stands
    /// still with work to do (every bind thread in a driver that never returns, beyond the
    /// replacements) starves it, and systemd restarts the service.
    func feedWatchdog(every interval: Duration, scheduler: RequestScheduler) async {
        var last: RequestScheduler.Progress? = nil
        var starved = false
        while !Task.isCancelled {
            let now = scheduler.progress
            if now.runnable == 0 || now.steps != last?.steps {
                notifier.watchdog()
                starved = false
            } else if !starved {
                starved = true
                logger.error("Watchdog not fed: requests wait and none started or ended", metadata: [
                    "waiting": "\(now.runnable)", "interval": "\(interval)",
                ])
            }
            last = now
            try? await Task.sleep(for: interval)
        }
    }

    /// Graceful shutdown (SIGTERM): take no new requests; the binds in flight run to their
    /// end, and what waits, or is still buffered, stays in the request journal for the next
    /// start. `run()` returns once they have. Callable from any thread, any number of times.
    public func shutdown() {
        let (first, scheduler) = state.beginShutdown()
        guard first else { return }
        source.stop()
        guard let scheduler else { return }
        // No request starts after this returns (a Task may run late on a busy host); the ones in
        // flight finish in `stop`.
        scheduler.stopStarting()
        Task { await scheduler.stop() }
    }

    /// The kernel's own `add`s are heard (on the udev source with `--kernel-adds yes`) only
    /// while a standing request may cover a new device: without one flavourd acts on no
    /// `add`, and each would wake it twice. A socket that cannot be opened leaves the binds
    /// to udevd's copies, as `--kernel-adds no` would.
    func listenForKernelAdds(_ config: FlavourConfig) {
        guard source.hearsKernelAdds else { return }
        do { try source.listenForKernelAdds(!config.requests.isEmpty) } catch {
            logger.warning("Kernel add monitor not opened: new devices wait for udevd's events", metadata: [
                "reason": "\(error)", "source": "\(source.name)",
            ])
        }
    }

    /// Re-reads config and the match table (SIGHUP, `systemctl reload`). A broken config
    /// keeps the old one.
    public func reload() async {
        guard let scheduler = state.scheduler else { return }
        notifier.reloading()
        do {
            let executor = try makeExecutor()
            scheduler.replaceExecutor(executor)
            listenForKernelAdds(executor.config)
            status.set(source: source.name, standing: executor.config.requests)
            logger.info("Configuration reloaded")
            // Held binds were decided by the old standing requests: the coldplug below reads
            // every device again and queues what the new ones cover, held VFs included.
            let held = heldVFs.drop()
            if held > 0 {
                logger.info("Requests held for VF creations handed to the reload's coldplug", metadata: ["requests": "\(held)"])
                status.queueChanged()
            }
            _ = coldplug(executor: executor, scheduler: scheduler, pin: false)
        } catch {
            logger.error("Reload failed, keeping the previous configuration", metadata: ["reason": "\(error)"])
        }
        heap.trim()  // the parse's garbage and the old table
        notifier.ready(status: "Listening for flavour requests (\(source.name) events)")
    }
}
