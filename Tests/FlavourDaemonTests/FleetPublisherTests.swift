import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A daemon on the test kernel that publishes its fleet files into the kernel's tree, on a
/// clock the test moves.
struct FleetHarness {
    let clock = ManualClock()
    let daemon: DaemonHarness
    let metricsDirectory: String
    let labelsDirectory: String

    /// `makeDirectories: false` leaves the directories for the test to make (or not).
    init(kernel: TestKernel, makeDirectories: Bool = true, fixed: Bool = true,
         stuckAfter: Duration? = DaemonSettings.defaultStuckAfter) throws {
        metricsDirectory = kernel.root + "/textfile"
        labelsDirectory = kernel.root + "/features.d"
        if makeDirectories {
            #expect(mkdir(metricsDirectory, 0o755) == 0 && mkdir(labelsDirectory, 0o755) == 0)
        }
        let clock = clock, metrics = metricsDirectory, labels = labelsDirectory
        daemon = DaemonHarness(kernel: kernel, stuckAfter: stuckAfter) { settings in
            settings.publishClock = clock.clock
            settings.metricsDirectory = fixed ? .fixed(.path(metrics)) : .standard(.path(metrics))
            settings.nodeLabelsDirectory = fixed ? .fixed(.path(labels)) : .standard(.path(labels))
        }
    }

    var fleet: FleetPublisher { daemon.service.fleet }
    var metricsPath: String { metricsDirectory + "/driver_flavour.prom" }
    var labelsPath: String { labelsDirectory + "/driver-flavour" }

    func text(_ path: String) -> String? { (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) } }

    /// The metrics file's samples, `name{labels}` as written to the value.
    func samples() -> [String: Double]? {
        guard let text = text(metricsPath) else { return nil }
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let space = line.lastIndex(of: " ")!
            samples[String(line[..<space])] = Double(line[line.index(after: space)...])
        }
        return samples
    }
}

@Suite(.serialized) struct FleetPublisherTests {
    /// Every outcome the journal got is counted, by kind and flavour; the devices' gauges say
    /// where they are: one bound, one fallen back then reverted, one failed and restored.
    @Test func theCountersAgreeWithTheJournal() async throws {
        let kernel = try makeKernel()
        let fleet = try FleetHarness(kernel: kernel)
        try await fleet.daemon.run {
            kernel.failProbe(driver: "virtio_vfio_pci", errno: EIO)
            try fleet.daemon.request(virtioNet, "vfio", uuid: uuid(1))  // fell-back to vfio-pci
            try await fleet.daemon.waitForOutcomes(1)
            try fleet.daemon.request(nvmePF, "vfio", uuid: uuid(2))  // bound
            try await fleet.daemon.waitForOutcomes(2)
            kernel.failProbe(driver: "vfio-pci", errno: EBUSY)
            try fleet.daemon.request(e1000e, "vfio", uuid: uuid(3))  // failed-rolled-back
            try await fleet.daemon.waitForOutcomes(3)
            try fleet.daemon.request(e1000e, "gpu", uuid: uuid(4))  // rejected: no such flavour
            try fleet.daemon.request(virtioNet, "none", uuid: uuid(5))  // reverted
            try await fleet.daemon.waitForOutcomes(5)
            fleet.clock.advance()

            var journal: [String: Double] = [:]
            for entry in fleet.daemon.logs.outcomes {
                let kind = try #require(OutcomeKind.allCases.first { $0.messageID == entry.metadata["message_id"] })
                let flavour = ["vfio", "none"].contains(entry.metadata["driver.flavour"]) ? entry.metadata["driver.flavour"]! : ""
                journal["driver_flavour_outcomes_total{kind=\"\(kind.name)\",flavour=\"\(flavour)\"}", default: 0] += 1
            }
            #expect(journal.count == 5)
            let samples = try #require(fleet.samples())
            let counted = samples.filter { $0.key.hasPrefix("driver_flavour_outcomes_total{") && $0.value > 0 }
            #expect(counted == journal)
            #expect(samples["driver_flavour_outcomes_total{kind=\"bound\",flavour=\"vfio\"}"] == 1)
            #expect(samples["driver_flavour_outcomes_total{kind=\"reverted\",flavour=\"none\"}"] == 1)
            #expect(samples["driver_flavour_outcomes_total{kind=\"rejected\",flavour=\"\"}"] == 1)
            #expect(samples["driver_flavour_outcomes_total{kind=\"dropped\",flavour=\"vfio\"}"] == 0)  // there from the start
            #expect(samples["driver_flavour_info{version=\"\(Release.version)\"}"] == 1)
            #expect(samples["driver_flavour_devices{flavour=\"vfio\",driver=\"vfio-pci\"}"] == 1)  // the NVMe PF
            #expect(samples.keys.filter { $0.hasPrefix("driver_flavour_devices{") }.count == 1)
            #expect(samples["driver_flavour_devices_failed{kind=\"failed-rolled-back\"}"] == 1)
            #expect(samples["driver_flavour_devices_failed{kind=\"failed-not-restored\"}"] == 0)
            #expect(samples["driver_flavour_devices_stuck"] == 0)
            let last = try #require(samples["driver_flavour_last_outcome_timestamp_seconds"])
            #expect(abs(last - Double(time(nil))) < 120)
        }
    }

    /// A burst of 1,000 outcomes makes one write, not a thousand: the first write went out at
    /// start, every outcome after it falls into the one write that waits for the second to end.
    @Test func aBurstOfAThousandOutcomesIsOneWrite() async throws {
        let kernel = try makeKernel(totalVFs: 1000)
        try kernel.sysfs.write("0", to: "bus/pci/devices/\(nvmePF)/sriov_drivers_autoprobe")
        try kernel.sysfs.write("1000", to: "bus/pci/devices/\(nvmePF)/sriov_numvfs")
        let vfs = kernel.addresses.filter { $0.bus >= 2 }
        #expect(vfs.count == 1000)
        let fleet = try FleetHarness(kernel: kernel)
        try await fleet.daemon.run {
            #expect(fleet.fleet.metricsWrites == 1)
            #expect(fleet.fleet.nodeLabelsWrites == 1)
            for (index, vf) in vfs.enumerated() { try fleet.daemon.request(vf, "vfio", uuid: uuid(index + 1)) }
            try await fleet.daemon.waitForOutcomes(1000, timeout: .seconds(120))
            #expect(fleet.fleet.metricsWrites == 1)  // the clock has not moved: the write waits
            #expect(fleet.clock.pending == 1)
            fleet.clock.advance()
            fleet.clock.advance()  // bind events heard after the write change no file
            #expect(fleet.fleet.metricsWrites == 2)
            #expect(fleet.fleet.nodeLabelsWrites == 2)
            #expect(fleet.samples()?["driver_flavour_outcomes_total{kind=\"bound\",flavour=\"vfio\"}"] == 1000)
            #expect(fleet.text(fleet.labelsPath)?.contains("feature.node.kubernetes.io/driver-flavour.vfio-1b36_0010.count=1000\n") == true)
        }
    }

    /// At a clean stop the metrics file goes (counters of a stopped daemon would read as
    /// current); the feature file stays, as the devices stay in VFIO mode.
    @Test func aCleanStopRemovesTheMetricsAndKeepsTheLabels() async throws {
        let kernel = try makeKernel()
        let fleet = try FleetHarness(kernel: kernel)
        try await fleet.daemon.run {
            try fleet.daemon.request(e1000e, "vfio", uuid: uuid(1))
            try await fleet.daemon.waitForOutcomes(1)
            fleet.clock.advance()
            #expect(fleet.text(fleet.metricsPath) != nil)
        }
        #expect(fleet.text(fleet.metricsPath) == nil)
        #expect(fleet.text(fleet.labelsPath)?.contains("driver-flavour.vfio-8086_10d3.count=1\n") == true)
        fleet.clock.advance()
        fleet.fleet.write()  // nothing after stop
        #expect(fleet.text(fleet.metricsPath) == nil)
        #expect(FileSystem.list(fleet.metricsDirectory).isEmpty)  // no temporary file left either
    }

    /// The families for issue 11's events exist from the start, and each moves by its one call.
    @Test func stuckDevicesAndResyncsMoveByOneCallEach() async throws {
        let kernel = try makeKernel()
        let fleet = try FleetHarness(kernel: kernel)
        try await fleet.daemon.run {
            var samples = try #require(fleet.samples())
            #expect(samples["driver_flavour_devices_stuck"] == 0)
            #expect(samples["driver_flavour_resyncs_total"] == 0)
            #expect(samples["driver_flavour_event_overruns_total"] == 0)
            fleet.fleet.stuck(e1000e)
            fleet.fleet.resynced(afterOverrun: true)
            fleet.fleet.resynced(afterOverrun: false)
            fleet.clock.advance()
            samples = try #require(fleet.samples())
            #expect(samples["driver_flavour_devices_stuck"] == 1)
            #expect(samples["driver_flavour_resyncs_total"] == 2)
            #expect(samples["driver_flavour_event_overruns_total"] == 1)
            try fleet.daemon.request(e1000e, "vfio", uuid: uuid(1))  // its request ends: no longer stuck
            try await fleet.daemon.waitForOutcomes(1)
            fleet.clock.advance()
            #expect(fleet.samples()?["driver_flavour_devices_stuck"] == 0)
        }
    }

    /// The daemon's own reports reach the metrics: a bind that does not return counts as
    /// stuck until its request ends, and the event monitor's overrun counts a resync and an
    /// overrun (the hooks wired to the stuck report and the resync).
    @Test(.timeLimit(.minutes(1))) func theDaemonsStuckReportsAndResyncsAreCounted() async throws {
        let kernel = try makeKernel()
        let fleet = try FleetHarness(kernel: kernel, stuckAfter: .milliseconds(200))
        let hanging = HangingBinds(kernel: kernel, held: [e1000e])
        try await fleet.daemon.run {
            try fleet.daemon.request(e1000e, "vfio", uuid: uuid(1))
            try await waitUntil("the stuck report") {
                fleet.daemon.logs.all.contains { $0.metadata["message_id"] == JournalNotice.stuck.messageID }
            }
            fleet.clock.advance()
            #expect(fleet.samples()?["driver_flavour_devices_stuck"] == 1)
            hanging.release()
            try await fleet.daemon.waitForOutcomes(1)
            _ = fleet.daemon.source.losingEvents {
                try? kernel.sysfs.write("change \(uuid(2)) DRIVERFLAVOUR=vfio", to: "bus/pci/devices/\(virtioNet)/uevent")
            }
            try await waitUntil("the resync") {
                fleet.daemon.logs.all.contains { $0.metadata["message_id"] == JournalNotice.resynced.messageID }
            }
            fleet.clock.advance()
            let samples = try #require(fleet.samples())
            #expect(samples["driver_flavour_devices_stuck"] == 0)
            #expect(samples["driver_flavour_resyncs_total"] == 1)
            #expect(samples["driver_flavour_event_overruns_total"] == 1)
        }
    }

    /// Whether a directory exists is asked at each write: node_exporter installed, or /var
    /// mounted, after flavourd started is used from the next change on.
    @Test func aDirectoryThatAppearsLaterIsUsedAtTheNextChange() async throws {
        let kernel = try makeKernel()
        let fleet = try FleetHarness(kernel: kernel, makeDirectories: false)
        try await fleet.daemon.run {
            #expect(fleet.fleet.metricsWrites == 0)
            #expect(mkdir(fleet.metricsDirectory, 0o755) == 0)
            try fleet.daemon.request(e1000e, "vfio", uuid: uuid(1))
            try await fleet.daemon.waitForOutcomes(1)
            fleet.clock.advance()
            #expect(fleet.fleet.metricsWrites == 1)
            #expect(fleet.samples()?["driver_flavour_outcomes_total{kind=\"bound\",flavour=\"vfio\"}"] == 1)
            #expect(fleet.text(fleet.labelsPath) == nil)  // its directory is still missing
        }
    }

    /// The feature file changes only when the labels do: NFD relabels the node at each change.
    @Test func theFeatureFileIsWrittenOnlyWhenTheLabelsChange() async throws {
        let kernel = try makeKernel()
        let fleet = try FleetHarness(kernel: kernel)
        try await fleet.daemon.run {
            #expect(fleet.fleet.nodeLabelsWrites == 1)
            #expect(fleet.text(fleet.labelsPath)?.contains("driver-flavour.vfio-ready=false\n") == true)
            try fleet.daemon.request(e1000e, "nosuch", uuid: uuid(1))
            try await fleet.daemon.waitForOutcomes(1)
            fleet.clock.advance()
            #expect(fleet.fleet.metricsWrites == 2)
            #expect(fleet.fleet.nodeLabelsWrites == 1)
            try fleet.daemon.request(e1000e, "vfio", uuid: uuid(2))
            try await fleet.daemon.waitForOutcomes(2)
            fleet.clock.advance()
            #expect(fleet.fleet.nodeLabelsWrites == 2)
            #expect(fleet.text(fleet.labelsPath)?.contains("driver-flavour.vfio-ready=true\n") == true)
        }
    }

    /// A device's ids and group are read once and kept; a device that goes and another that
    /// comes at its address are read again.
    @Test func anotherCardAtTheSameAddressIsReadAgain() async throws {
        let kernel = try makeKernel()
        let fleet = try FleetHarness(kernel: kernel)
        try await fleet.daemon.run {
            try fleet.daemon.request(e1000e, "vfio", uuid: uuid(1))
            try await fleet.daemon.waitForOutcomes(1)
            fleet.clock.advance()
            #expect(fleet.text(fleet.labelsPath)?.contains("driver-flavour.vfio-8086_10d3.count=1\n") == true)
            kernel.removeDevice(e1000e)
            try kernel.addDevice(.virtioNet("0000:00:04.0", group: 4))
            try fleet.daemon.request(e1000e, "vfio", uuid: uuid(2))
            try await fleet.daemon.waitForOutcomes(2)
            try await waitUntil("the new card's labels") {
                fleet.clock.advance()
                return fleet.text(fleet.labelsPath)?.contains("driver-flavour.vfio-1af4_1041.count=1\n") == true
            }
            #expect(fleet.text(fleet.labelsPath)?.contains("8086_10d3") == false)
        }
    }

    /// Covered: present devices a standing request names; applied: those on its flavour.
    @Test func standingRequestsCoveredAndApplied() async throws {
        let kernel = try makeKernel(config: "request vfio 0000:00:03.0\nrequest vfio 0000:00:04.0\n")
        let fleet = try FleetHarness(kernel: kernel)
        try await fleet.daemon.run {
            fleet.clock.advance()
            var samples = try #require(fleet.samples())
            #expect(samples["driver_flavour_standing_request_devices{state=\"covered\"}"] == 2)
            #expect(samples["driver_flavour_standing_request_devices{state=\"applied\"}"] == 2)
            try fleet.daemon.request(virtioNet, "none", uuid: uuid(1))
            try await fleet.daemon.waitForOutcomes(3)
            kernel.removeDevice(e1000e)
            // The removal reaches the daemon as an event: written at the write after it is heard.
            try await waitUntil("the removal counted") {
                fleet.clock.advance()
                return fleet.samples()?["driver_flavour_standing_request_devices{state=\"covered\"}"] == 1
            }
            samples = try #require(fleet.samples())
            #expect(samples["driver_flavour_standing_request_devices{state=\"applied\"}"] == 0)
        }
    }

    /// The configuration names the directories unless the command line did; a reload that
    /// names another takes flavourd's file out of the old one.
    @Test func theConfigurationMovesTheFiles() async throws {
        let kernel = try makeKernel()
        let moved = kernel.root + "/elsewhere"
        #expect(mkdir(moved, 0o755) == 0)
        let fleet = try FleetHarness(kernel: kernel, fixed: false)
        try await fleet.daemon.run {
            #expect(fleet.text(fleet.metricsPath) != nil)
            try kernel.writeConfig("60-fleet.conf", "metrics-dir \(moved)\nnode-labels-dir -\n")
            await fleet.daemon.service.reload()
            fleet.clock.advance()
            #expect(fleet.text(fleet.metricsPath) == nil)
            #expect(fleet.text(moved + "/driver_flavour.prom")?.contains("driver_flavour_info") == true)
            #expect(fleet.text(fleet.labelsPath) == nil)
        }
        #expect(fleet.text(moved + "/driver_flavour.prom") == nil)
    }

    /// With neither directory (`-` for both) a change sets no timer: nothing wakes for nothing.
    @Test func withoutDirectoriesNothingIsScheduled() async throws {
        let kernel = try makeKernel()
        let clock = ManualClock()
        let daemon = DaemonHarness(kernel: kernel) { $0.publishClock = clock.clock }
        try await daemon.run {
            try daemon.request(e1000e, "vfio", uuid: uuid(1))
            try await daemon.waitForOutcomes(1)
            #expect(clock.pending == 0)
        }
        #expect(daemon.service.fleet.metricsWrites == 0 && daemon.service.fleet.nodeLabelsWrites == 0)
    }

    /// A write that fails is logged once, with the path and errno, and the old file is kept.
    @Test func aFailingWriteIsLoggedOnce() async throws {
        let kernel = try makeKernel()
        let fleet = try FleetHarness(kernel: kernel)
        #expect(mkdir(fleet.metricsPath, 0o755) == 0)  // rename(2) over a directory: EISDIR
        try await fleet.daemon.run {
            try fleet.daemon.request(e1000e, "nosuch", uuid: uuid(1))
            try await fleet.daemon.waitForOutcomes(1)
            fleet.clock.advance()
        }
        let warnings = fleet.daemon.logs.all.filter { $0.message == "Cannot publish file for fleets" }
        #expect(warnings.count == 1)
        #expect(warnings.first?.metadata["path"] == fleet.metricsPath)
        #expect(warnings.first?.metadata["errno"] == "\(EISDIR)")
        #expect(fleet.fleet.metricsWrites == 0)
    }
}
