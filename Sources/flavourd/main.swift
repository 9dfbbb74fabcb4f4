import ArgumentParser
import FlavourDaemon
import FlavourEngine
import FlavourPlatform
import Logging
import ServiceLifecycle
import UnixSignals

/// flavourd: wires the daemon's services together; the logic lives in FlavourDaemon.
@main
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
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service), .init(service: ReloadOnHangup(service: service))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// SIGHUP (systemctl reload) re-reads config and modules.alias.
struct ReloadOnHangup: Service {
    let service: FlavourService

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            await service.reload()
        }
    }
}
