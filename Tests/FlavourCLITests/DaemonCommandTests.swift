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
                probe: kernel, notifier: notifier, logger: Logger(label: "test"))
        }

        func run(_ body: () async throws -> Void) async throws {
            let task = Task { try await service.run() }
            while !notifier.isReady || !service.status.isSettled { try await Task.sleep(for: .milliseconds(5)) }
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

    /// `set --persist` on a device not yet on its flavour: flavourctl gets the outcome of its
    /// own request, and the reload it signals adds no second request for the device (the
    /// reload used to queue one through the new standing request, whose outcome then hid
    /// flavourctl's and made it time out).
    @Test func setPersistGetsItsOwnOutcomeAndTheReloadAddsNoRequest() async throws {
        let kernel = try makeKernel()
        let daemon = Daemon(kernel: kernel)
        let service = daemon.service
        // The SIGHUP, as flavourd's signal listener handles it: a reload, run to its end.
        let run = Run(kernel: kernel) {
            let done = DispatchSemaphore(value: 0)
            Task {
                await service.reload()
                done.signal()
            }
            done.wait()
        }
        try await daemon.run {
            let code = await flavourctl(run, ["set", "--persist", "--timeout", "10", "0000:00:04.0", "vfio", "--run-dir", daemon.runDirectory])
            #expect(code == 0, "\(run.output)")
            #expect(run.output == "0000:00:04.0: bound, driver vfio-pci")
            #expect(run.reloadSignals == [getpid()])
            #expect(kernel.driver(of: e1000e) == "vfio-pci")
            let persisted = String(decoding: try FileSystem.read(kernel.configDirectory + "/" + DefaultPaths.persistedRequestsFile), as: UTF8.self)
            #expect(persisted.contains("request vfio 0000:00:04.0"))
            // Nothing queued by the reload: the device's last outcome is still flavourctl's own.
            daemon.service.status.flush()
            let report = try #require(try run.json("status", "--run-dir", daemon.runDirectory) as? [String: Any])
            #expect((report["in_flight"] as? [String])?.isEmpty == true)
            #expect(report["queued_count"] as? Int == 0)
            let status = try JSONSerialization.jsonObject(with: Data(try FileSystem.read(daemon.runDirectory + "/status.json"))) as? [String: Any]
            let last = try #require((status?["last_outcomes"] as? [[String: Any]])?.first { $0["address"] as? String == "0000:00:04.0" })
            #expect(last["origin"] as? String == "synthetic")
            #expect(last["uuid"] is String)
        }
    }

    /// A request that fails is not persisted: flavourctl says so, and nothing is signalled.
    @Test func setPersistOfAFailedRequestPersistsNothing() async throws {
        let kernel = try makeKernel()
        kernel.failProbe(driver: "vfio-pci", errno: EIO)
        let daemon = Daemon(kernel: kernel)
        let run = Run(kernel: kernel)
        try await daemon.run {
            let code = await flavourctl(run, ["set", "--persist", "0000:00:04.0", "vfio", "--run-dir", daemon.runDirectory])
            #expect(code == 1)
            #expect(run.standardError.contains("not persisted: the request ended failed-rolled-back"), "\(run.output)")
            #expect(run.reloadSignals.isEmpty)
            #expect(!FileSystem.exists(kernel.configDirectory + "/" + DefaultPaths.persistedRequestsFile))
        }
    }

    /// A status.json whose pid now belongs to another process (the daemon that wrote it died
    /// and the pid was reused; here the test's own pid, with another start time): `set
    /// --persist` sends nothing and signals nobody, `status` and `settle` say the file is stale.
    @Test func aStalePidInTheStatusFileIsNeitherSignalledNorTrusted() throws {
        let kernel = try makeKernel()
        let directory = kernel.root + "/stale-run"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let me = try #require(ProcessIdentity.current())
        let json = #"{"pid": \#(me.pid), "start_time": \#(me.startTime + 1), "state": "ready", "source": "udev", "settled": true, "standing_requests": [], "in_flight": [], "stuck": [], "queued": [], "queued_count": 0, "last_outcomes": []}"#
        try json.write(toFile: directory + "/status.json", atomically: true, encoding: .utf8)
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        #expect(run("set", "--persist", "0000:00:04.0", "vfio", "--run-dir", directory) == 1)
        #expect(run.output.contains("status.json is stale: pid \(me.pid) is another process now, not the flavourd that wrote it"), "\(run.output)")
        #expect(run.reloadSignals.isEmpty)
        #expect(kernel.events.isEmpty)
        #expect(!FileSystem.exists(kernel.configDirectory + "/" + DefaultPaths.persistedRequestsFile))
        #expect(run("status", "--run-dir", directory) == 0)
        #expect(run.output.contains("flavourd:        not running; status.json is stale (pid \(me.pid) is another process now"), "\(run.output)")
        let report = try #require(try run.json("status", "--run-dir", directory) as? [String: Any])
        #expect(report["running"] as? Bool == false)
        #expect((report["stale"] as? String)?.contains("another process") == true)
        #expect(run("settle", "--timeout", "1", "--run-dir", directory) == 1)
        #expect(run.output.contains("status.json is stale"), "\(run.output)")
        // The same file with the right start time is a running daemon's.
        let fresh = json.replacingOccurrences(of: "\(me.startTime + 1)", with: "\(me.startTime)")
        try fresh.write(toFile: directory + "/status.json", atomically: true, encoding: .utf8)
        #expect(run("settle", "--timeout", "1", "--run-dir", directory) == 0, "\(run.output)")
        // A restart: the stale file is replaced by the new daemon's while settle waits, as an
        // upgrade restarts flavourd-settle.service beside flavourd.
        try json.write(toFile: directory + "/status.json", atomically: true, encoding: .utf8)
        let writer = Thread {
            usleep(300_000)
            try? fresh.write(toFile: directory + "/status.json", atomically: true, encoding: .utf8)
        }
        writer.start()
        #expect(run("settle", "--timeout", "20", "--run-dir", directory) == 0, "\(run.output)")
    }

    /// `settle` waits for the start's requests: here they have ended when it runs.
    @Test func settleReturnsOnceTheStartsRequestsEnded() async throws {
        let kernel = try makeKernel(config: "request vfio 0000:00:04.0\n")
        let daemon = Daemon(kernel: kernel)
        let run = Run(kernel: kernel)
        try await daemon.run {
            daemon.service.status.flush()
            let code = await flavourctl(run, ["settle", "--timeout", "10", "--run-dir", daemon.runDirectory])
            #expect(code == 0, "\(run.output)")
            #expect(kernel.driver(of: e1000e) == "vfio-pci")
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

    /// Binds held while PFs create VFs: counted in the text and the JSON, with the PFs.
    @Test func statusShowsTheBindsHeldForVFCreations() throws {
        let kernel = try makeKernel()
        let directory = kernel.root + "/held-run"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let json = #"{"pid": \#(getpid()), "state": "ready", "source": "udev", "standing_requests": [], "in_flight": [], "queued": [], "queued_count": 0, "held_for_vf_creations": 250, "creating_vfs": ["0000:01:00.0", "0000:02:00.0"], "last_outcomes": []}"#
        try json.write(toFile: directory + "/status.json", atomically: true, encoding: .utf8)
        let run = Run(kernel: kernel)
        #expect(run("status", "--run-dir", directory) == 0)
        #expect(run.output.contains("held:      250 bind(s) of new VFs, until the PFs finish creating VFs (creating VFs: 0000:01:00.0, 0000:02:00.0)\n"), "\(run.output)")
        let report = try #require(try run.json("status", "--run-dir", directory) as? [String: Any])
        #expect(report["held_for_vf_creations"] as? Int == 250)
        #expect(report["creating_vfs"] as? [String] == ["0000:01:00.0", "0000:02:00.0"])
        // An older daemon's file, without the keys: nothing held, no line.
        let older = #"{"pid": \#(getpid()), "state": "ready", "source": "udev", "standing_requests": [], "in_flight": [], "queued": [], "last_outcomes": []}"#
        try older.write(toFile: directory + "/status.json", atomically: true, encoding: .utf8)
        #expect(run("status", "--run-dir", directory) == 0)
        #expect(!run.output.contains("held:"), "\(run.output)")
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
