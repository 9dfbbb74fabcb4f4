import FlavourDaemon
import FlavourEngine
import FlavourPlatform
import FlavourSystem
import Glibc
import Logging

// Before any thread starts, so that none takes these signals: SignalListener reads them.
SignalListener.block(Flavourd.handledSignals)
Heap.useOneArena()
// No libdispatch: its worker pool wakes an idle process once a second (GlobalExecutors).
GlobalExecutors.install()
Task {
    await Flavourd.main()
    exit(0)
}
GlobalExecutors.runMainLoop()

/// flavourd: wires the daemon's services together; the logic lives in FlavourDaemon.
enum Flavourd {
    /// SIGTERM and SIGINT shut down gracefully; SIGHUP (systemctl reload) re-reads config
    /// and modules.alias.
    static let handledSignals = [SIGTERM, SIGINT, SIGHUP]
    /// The rules that tag the events flavourd listens for (udev-rules/).
    static let rulesFile = "70-driver-flavour.rules"

    static func main() async {
        switch DaemonCommandLine.parse(Array(CommandLine.arguments.dropFirst())) {
        case .help:
            print(DaemonCommandLine.usage)
        case .error(let message):
            Self.fail("flavourd: \(message)\n\(DaemonCommandLine.usage)", code: 64)
        case .run(let options):
            do { try await run(options) } catch {
                Self.fail("flavourd: \(error)", code: 1)
            }
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        let bytes = Array((message + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(code)
    }

    static func run(_ options: DaemonCommandLine) async throws {
        LogDestination.bootstrap(identifier: "flavourd", logLevel: options.logLevel)
        let logger = Logger(label: "flavourd")
        let kind = options.source == "auto" ? UdevEventSource.detect() : UdevEventSource(rawValue: options.source)!
        if kind == .kernel, options.source == "auto" {
            logger.warning("udevd is not running: listening to kernel uevents directly; udev rules will not apply",
                           metadata: ["source": "kernel"])
        }
        if kind == .udev, UdevEventSource.installedRules(named: Self.rulesFile) == nil {
            logger.warning("udev rules not installed: no event will be tagged for flavourd", metadata: [
                "rules": "\(Self.rulesFile)", "searched": "\(UdevEventSource.rulesDirectories.joined(separator: " "))",
                "fix": "install udev-rules/\(Self.rulesFile) into /usr/lib/udev/rules.d and run udevadm control --reload",
            ])
        }
        let source = try UdevDeviceEventSource(
            source: kind, tag: "driver_flavour", receiveBufferSize: options.receiveBufferBytes, kernelAdds: options.kernelAdds)
        // SO_RCVBUFFORCE needs CAP_NET_ADMIN (the unit grants it); without it the kernel's
        // net.core.rmem_max caps the buffer, and a storm of uevents may overrun it.
        if let error = source.receiveBufferError {
            logger.warning("Event monitor's receive buffer not enlarged: an event storm may overrun it (flavourd then resyncs from sysfs)", metadata: [
                "reason": "\(error)", "receive_buffer.bytes": "\(source.receiveBufferBytes)",
                "fix": "run flavourd with CAP_NET_ADMIN (flavourd.service's CapabilityBoundingSet has it)",
            ])
        } else {
            logger.info("Event monitor's receive buffer set", metadata: ["receive_buffer.bytes": "\(source.receiveBufferBytes)"])
        }
        if let error = source.actionFilterError {
            logger.warning("Event monitor's socket filter not attached: every uevent wakes flavourd", metadata: [
                "reason": "\(error)", "fix": "none needed: events are still filtered, after they are received",
            ])
        }
        let service = FlavourService(
            settings: DaemonSettings(options),
            source: source,
            makeLoader: { directory in KmodModuleLoader(modulesDirectory: directory, logger: logger) },
            // Writes never follow a link out of the sysfs root (openat2 RESOLVE_BENEATH).
            writer: ConfinedSysfsWriter(root: options.sysfsRoot), probe: KernelHostProbe(),
            notifier: SystemdNotifier(logger: logger), releaseFreeMemory: Heap.releaseFreeMemory, logger: logger)
        // SIGHUPs queue up as one pending reload at most; reloads run one at a time.
        let (hangups, hangup) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let signals = try SignalListener(signals: Self.handledSignals)
        signals.start { signal in
            if signal == SIGHUP {
                hangup.yield()
            } else {
                logger.info("Signal caught, shutting down", metadata: ["signal": "\(signal)"])
                service.shutdown()
            }
        }
        defer { signals.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups { await service.reload() }
            }
            defer { hangup.finish() }  // the reload loop ends when the daemon has stopped
            try await service.run()
        }
    }
}
