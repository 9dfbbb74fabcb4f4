import ArgumentParser
import FlavourDaemon
import FlavourEngine
import FlavourPlatform
import Glibc
import Logging
import ServiceLifecycle

// Before any thread starts, so that none takes these signals: SignalListener reads them.
SignalListener.block(Flavourd.handledSignals)
// No libdispatch: its worker pool wakes an idle process once a second (GlobalExecutors).
GlobalExecutors.install()
Task {
    await Flavourd.main()
    exit(0)
}
GlobalExecutors.runMainLoop()

/// flavourd: wires the daemon's services together; the logic lives in FlavourDaemon.
struct Flavourd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flavourd",
        abstract: "Carry out driver flavour requests on PCI devices as they arrive from udev.")

    @Option(help: "Root of sysfs.") var sysfsRoot = "/sys"
    @Option(help: "Kernel modules directory (default: /lib/modules/$(uname -r)).") var modulesDir: String?
    @Option(help: "Directory of *.conf files.") var configDir = "/etc/driver-flavour.d"
    @Option(help: "Runtime state directory (status.json).") var runDir = "/run/driver-flavour"
    @Option(help: "Devices bound concurrently.") var maxInFlight = 4
    @Option(help: "Event source: udev, kernel, or auto (udev when udevd runs).") var source = "auto"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

    /// SIGTERM and SIGINT shut down gracefully; SIGHUP (systemctl reload) re-reads config
    /// and modules.alias.
    static let handledSignals = [SIGTERM, SIGINT, SIGHUP]

    func validate() throws {
        guard ["auto", "udev", "kernel"].contains(source) else { throw ValidationError("--source must be udev, kernel or auto") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        guard maxInFlight >= 1 else { throw ValidationError("--max-in-flight must be at least 1") }
    }

    func run() async throws {
        LogDestination.bootstrap(identifier: "flavourd", logLevel: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "flavourd")
        let kind = source == "auto" ? UdevEventSource.detect() : UdevEventSource(rawValue: source)!
        if kind == .kernel {
            logger.warning("udevd is not running: listening to kernel uevents directly; udev rules will not apply",
                           metadata: ["source": "kernel"])
        }
        let settings = DaemonSettings(
            sysfsRoot: sysfsRoot, modulesDirectory: modulesDir, configDirectory: configDir, runDirectory: runDir,
            maxInFlight: maxInFlight)
        let service = FlavourService(
            settings: settings,
            source: try UdevDeviceEventSource(source: kind, tag: "driver_flavour", logger: logger),
            makeLoader: { directory in try KmodModuleLoader(modulesDirectory: directory, logger: logger) },
            notifier: SystemdNotifier(logger: logger), logger: logger)
        // No signals for the group: its UnixSignalsSequence is a Dispatch signal source.
        let (hangups, hangup) = AsyncStream<Void>.makeStream()
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service), .init(service: ReloadOnHangup(service: service, hangups: hangups))],
            logger: logger))
        let signals = try SignalListener(signals: Self.handledSignals)
        signals.start { signal in
            if signal == SIGHUP {
                hangup.yield()
            } else {
                logger.info("Signal caught, shutting down", metadata: ["signal": "\(signal)"])
                Task { await group.triggerGracefulShutdown() }
            }
        }
        defer { signals.stop() }
        try await group.run()
    }
}

/// SIGHUP (systemctl reload) re-reads config and modules.alias, one reload at a time.
struct ReloadOnHangup: Service {
    let service: FlavourService
    let hangups: AsyncStream<Void>

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            await service.reload()
        }
    }
}
