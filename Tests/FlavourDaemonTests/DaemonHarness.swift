import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A running daemon on a test kernel.
struct DaemonHarness {
    let kernel: TestKernel
    let notifier: RecordingNotifier
    let logs = DaemonLog()
    let source: TestEventSource
    let service: FlavourService
    let runDirectory: String

    /// `configure` changes the settings before the daemon is made (the fleet files' directories, their clock).
    /// `kernelAdds`: the source hears the kernel's own `add`s ahead of udevd's copies.
    init(kernel: TestKernel, maxInFlight: Int = 4, stuckAfter: Duration? = DaemonSettings.defaultStuckAfter,
         watchdogInterval: Duration? = nil, kernelAdds: Bool = false, configure: (inout DaemonSettings) -> Void = { _ in },
         releaseFreeMemory: @escaping @Sendable () -> Void = {}) {
        self.kernel = kernel
        runDirectory = kernel.root + "/run"
        var settings = DaemonSettings(
            sysfsRoot: kernel.sysfsRoot, modulesDirectory: kernel.modulesDirectory, configDirectory: kernel.configDirectory,
            runDirectory: runDirectory, maxInFlight: maxInFlight, stuckAfter: stuckAfter)
        settings.procRoot = kernel.procRoot
        configure(&settings)
        notifier = RecordingNotifier(watchdogInterval: watchdogInterval)
        source = TestEventSource(kernel: kernel, kernelAdds: kernelAdds)
        service = FlavourService(
            settings: settings, source: source, makeLoader: { _ in kernel },
            writer: kernel, probe: kernel, notifier: notifier, releaseFreeMemory: releaseFreeMemory, logger: logs.logger)
    }

    /// Runs the daemon for the duration of `body`, then shuts it down gracefully. `body` runs
    /// once the start's requests have ended, or with `settled: false` right after READY.
    func run(settled: Bool = true, _ body: () async throws -> Void) async throws {
        let task = Task { try await service.run() }
        try await waitUntil("READY=1") { notifier.isReady }
        // The start's requests (standing, taken over, pending in driver_flavour) run after READY.
        if settled { try await waitUntil("the start's requests ended") { service.status.isSettled } }
        try await body()
        service.shutdown()
        try await task.value
    }

    /// Sends a synthetic request as `echo "change UUID DRIVERFLAVOUR=value" > uevent` would.
    func request(_ address: PCIAddress, _ flavour: String, uuid: String) throws {
        try kernel.sysfs.write("change \(uuid) DRIVERFLAVOUR=\(flavour)", to: "bus/pci/devices/\(address)/uevent")
    }

    /// Waits until `count` outcomes are logged.
    func waitForOutcomes(_ count: Int, timeout: Duration = .seconds(30)) async throws {
        try await waitUntil("\(count) outcomes (have \(logs.outcomeCount))", timeout: timeout) { logs.outcomeCount >= count }
    }
}

/// Holds every bind to `driver` in the test kernel until `release()`, as a probe that takes
/// its time holds the `bind` write: requests stay in flight whatever the threads' timing.
final class HeldBinds: Sendable {
    private let held = Atomic<Bool>(true)

    init(kernel: TestKernel, driver: String) {
        kernel.beforeWrite { [self] path in
            guard path.hasSuffix("drivers/\(driver)/bind") else { return }
            while held.load(ordering: .acquiring) { usleep(1_000) }
        }
    }

    func release() { held.store(false, ordering: .releasing) }
}

func waitUntil(_ what: @autoclosure () -> String, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while !condition() {
        guard clock.now < deadline else {
            Issue.record("timed out waiting for \(what())")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

func uuid(_ n: Int) -> String {
    let hex = String(n, radix: 16)
    return "00000000-0000-0000-0000-" + String(repeating: "0", count: 12 - hex.count) + hex
}
