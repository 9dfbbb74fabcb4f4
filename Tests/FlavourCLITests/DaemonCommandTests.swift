import Dispatch
import FlavourCLI
import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Foundation
import Logging
import Testing

/// `flavourctl set`, `unset` and `status` against a flavourd running in this process on
/// the test kernel.
@Suite(.serialized) struct DaemonCommandTests {
    struct Daemon {
        let kernel: TestKernel
        let notifier = RecordingNotifier()
        let service: FlavourService
        let runDirectory: String

        init(kernel: TestKernel) {
            self.kernel = kernel
            runDirectory = kernel.root + "/run"
            service = FlavourService(
                settings: DaemonSettings(
                    sysfsRoot: kernel.sysfsRoot, modulesDirectory: kernel.modulesDirectory,
                    configDirectory: kernel.configDirectory, runDirectory: runDirectory),
                source: TestEventSource(kernel: kernel), makeLoader: { _ in kernel }, writer: kernel,
                notifier: notifier, logger: Logger(label: "test"))
        }

        func run(_ body: () async throws -> Void) async throws {
            let task = Task { try await service.run() }
            while !notifier.isReady { try await Task.sleep(for: .milliseconds(5)) }
            service.status.flush()
            try await body()
            service.shutdown()
            try await task.value
        }
    }

    /// Runs flavourctl off the cooperative pool: `set` blocks while it waits for the daemon.
    func flavourctl(_ run: Run, _ arguments: [String]) async -> Int32 {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: run.run(arguments)) }
        }
    }

    @Test func setWaitsForTheDaemonsOutcome() async throws {
        let kernel = try makeKernel()
        let daemon = Daemon(kernel: kernel)
        let run = Run(kernel: kernel)
        try await daemon.run {
            let code = await flavourctl(run, ["set", "0000:00:03.0", "vfio", "--run-dir", daemon.runDirectory])
            #expect(code == 0, "\(run.output)")
            #expect(run.output == "0000:00:03.0: bound, driver virtio_vfio_pci")
            #expect(kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        }
    }

    /// set and unset say whether the device is in VFIO mode, as the kernel has it after the outcome.
    @Test func setAndUnsetSayWhetherTheDeviceIsInVFIOMode() async throws {
        let kernel = try makeKernel()
        let daemon = Daemon(kernel: kernel)
        let run = Run(kernel: kernel)
        try await daemon.run {
            var code = await flavourctl(run, ["set", "0000:00:04.0", "vfio", "--json", "--run-dir", daemon.runDirectory])
            #expect(code == 0, "\(run.output)")
            var line = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            #expect(line["vfio_mode"] as? Bool == true)
            code = await flavourctl(run, ["unset", "0000:00:04.0", "--json", "--run-dir", daemon.runDirectory])
            #expect(code == 0, "\(run.output)")
            line = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            #expect(line["result"] as? String == "reverted")
            #expect(line["vfio_mode"] as? Bool == false)
        }
    }

    @Test func setThroughTheDriverFlavourAttribute() async throws {
        let kernel = try TestKernel(
            modules: [.vfioPCI], loaded: [.e1000e], devices: [.e1000e("0000:00:04.0", group: 4)], flavourAttribute: true)
        let daemon = Daemon(kernel: kernel)
        let run = Run(kernel: kernel)
        try await daemon.run {
            let code = await flavourctl(run, ["set", "0000:00:04.0", "vfio", "--run-dir", daemon.runDirectory])
            #expect(code == 0, "\(run.output)")
            let attribute = try kernel.sysfs.read("bus/pci/devices/0000:00:04.0/driver_flavour")
            #expect(attribute == "vfio")
            #expect(kernel.driver(of: e1000e) == "vfio-pci")
        }
    }

    @Test func persistedRequestIsAppliedToTheDeviceWhenItComesBack() async throws {
        let kernel = try makeKernel()
        let daemon = Daemon(kernel: kernel)
        let run = Run(kernel: kernel)
        try await daemon.run {
            let persistCode = await flavourctl(run, ["set", "--persist", "0000:00:04.0", "vfio", "--run-dir", daemon.runDirectory])
            #expect(persistCode == 0, "\(run.output)")
            #expect(run.reloadSignals == [getpid()])
            let persisted = String(decoding: try FileSystem.read(kernel.configDirectory + "/" + DefaultPaths.persistedRequestsFile), as: UTF8.self)
            #expect(persisted.contains("request vfio 0000:00:04.0"))
            await daemon.service.reload()  // what the SIGHUP does
            kernel.removeDevice(e1000e)
            try kernel.addDevice(.e1000e("0000:00:04.0", group: 4))
            for _ in 0..<400 where kernel.driver(of: e1000e) != "vfio-pci" { try await Task.sleep(for: .milliseconds(5)) }
            #expect(kernel.driver(of: e1000e) == "vfio-pci")
            let unsetCode = await flavourctl(run, ["unset", "0000:00:04.0", "--run-dir", daemon.runDirectory])
            #expect(unsetCode == 0, "\(run.output)")
            #expect(kernel.driver(of: e1000e) == "e1000e")
            let after = String(decoding: try FileSystem.read(kernel.configDirectory + "/" + DefaultPaths.persistedRequestsFile), as: UTF8.self)
            #expect(!after.contains("0000:00:04.0"))
        }
    }

    @Test func statusShowsTheDaemonAndItsOutcomes() async throws {
        let kernel = try makeKernel(config: "request vfio 0000:00:04.0\n")
        let daemon = Daemon(kernel: kernel)
        let run = Run(kernel: kernel)
        try await daemon.run {
            daemon.service.status.flush()
            let report = try #require(try run.json("status", "--run-dir", daemon.runDirectory) as? [String: Any])
            #expect(report["running"] as? Bool == true)
            #expect(report["source"] as? String == "test")
            #expect(report["state"] as? String == "ready")
            #expect(report["driver_flavour_module"] as? Bool == false)
            #expect((report["standing_requests"] as? [String])?.first?.hasPrefix("vfio 0000:00:04.0 (") == true)
            let outcomes = try #require(report["last_outcomes"] as? [[String: Any]])
            #expect(outcomes.first?["address"] as? String == "0000:00:04.0")
            #expect(outcomes.first?["result"] as? String == "bound")
            #expect(outcomes.first?["vfio_mode"] as? Bool == true)  // vfio-dev/vfio0 below the device
        }
    }

    @Test func setWithoutARunningDaemonRefusesAndSendsNothing() throws {
        let kernel = try makeKernel()
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        #expect(run("set", "0000:00:03.0", "vfio", "--run-dir", kernel.root + "/nothing-here") == 1)
        #expect(run.output.contains("flavourd is not running"))
        #expect(kernel.events.isEmpty)
    }

    /// The daemon lists the first waiting requests and counts them all; status shows both.
    @Test func statusShowsWhatIsInFlightAndHowManyWait() throws {
        let kernel = try makeKernel()
        let directory = kernel.root + "/busy-run"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let json = #"{"pid": \#(getpid()), "state": "ready", "source": "udev", "standing_requests": [], "in_flight": ["0000:00:03.0"], "queued": ["0000:00:04.0 vfio", "0000:00:05.0 none"], "queued_count": 40, "last_outcomes": []}"#
        try json.write(toFile: directory + "/status.json", atomically: true, encoding: .utf8)
        let run = Run(kernel: kernel)
        #expect(run("status", "--run-dir", directory) == 0)
        #expect(run.output.contains("in flight: 0000:00:03.0\n"), "\(run.output)")
        #expect(run.output.contains("queued:    0000:00:04.0 vfio, 0000:00:05.0 none, … (40 in all)\n"), "\(run.output)")
        let report = try #require(try run.json("status", "--run-dir", directory) as? [String: Any])
        #expect(report["in_flight"] as? [String] == ["0000:00:03.0"])
        #expect(report["queued"] as? [String] == ["0000:00:04.0 vfio", "0000:00:05.0 none"])
        #expect(report["queued_count"] as? Int == 40)
    }

    @Test func statusWithoutADaemon() throws {
        let run = Run(kernel: try makeKernel())
        #expect(run("status", "--run-dir", "/nonexistent") == 0)
        #expect(run.output.contains("flavourd:        not running"))
    }
}

@Suite(.serialized) struct SetRejectionTests {
    /// A flavour the daemon does not know (added to the config, daemon not reloaded):
    /// set gets the daemon's rejection at once instead of waiting for its timeout.
    @Test func setSeesTheDaemonsRejection() async throws {
        let kernel = try makeKernel()
        let daemon = DaemonCommandTests.Daemon(kernel: kernel)
        let run = Run(kernel: kernel)
        try await daemon.run {
            try kernel.writeConfig("60-new.conf", "flavour newflavour vfio_pci vfio_pci\n")
            let code = await DaemonCommandTests().flavourctl(run, ["set", "0000:00:03.0", "newflavour", "--timeout", "20", "--run-dir", daemon.runDirectory])
            #expect(code == 1)
            #expect(run.output.hasPrefix("0000:00:03.0: rejected, driver none (unknown flavour 'newflavour'"), "\(run.output)")
        }
    }
}
