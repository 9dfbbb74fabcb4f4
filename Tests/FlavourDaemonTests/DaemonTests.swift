import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

let virtioNet = try! PCIAddress(parsing: "0000:00:03.0")
let e1000e = try! PCIAddress(parsing: "0000:00:04.0")
let nvmePF = try! PCIAddress(parsing: "0000:01:00.0")

func makeKernel(config: String = "", flavourAttribute: Bool = false, totalVFs: Int = 8) throws -> TestKernel {
    let kernel = try TestKernel(
        modules: [.vfioPCI, .virtioVFIOPCI], loaded: [.virtioPCI, .e1000e, .nvme],
        devices: [.virtioNet("0000:00:03.0", group: 3), .e1000e("0000:00:04.0", group: 4),
                  .nvmePF("0000:01:00.0", group: 10, totalVFs: totalVFs)],
        flavourAttribute: flavourAttribute)
    if !config.isEmpty { try kernel.writeConfig("50-test.conf", config) }
    return kernel
}

@Suite(.serialized) struct DaemonTests {
    @Test func syntheticRequestIsCarriedOutAndLoggedOnce() async throws {
        let daemon = DaemonHarness(kernel: try makeKernel())
        try await daemon.run {
            try daemon.request(virtioNet, "vfio", uuid: uuid(1))
            try await daemon.waitForOutcomes(1)
        }
        #expect(daemon.kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        let outcome = try #require(daemon.logs.outcomes.first)
        #expect(daemon.logs.outcomes.count == 1)
        #expect(outcome.message == "Device bound to flavour driver")
        #expect(outcome.metadata["message_id"] == OutcomeKind.bound.messageID)
        #expect(outcome.metadata["pci.slot_name"] == "0000:00:03.0")
        #expect(outcome.metadata["pci.id"] == "1AF4:1041")
        #expect(outcome.metadata["modalias"] == "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00")
        #expect(outcome.metadata["driver.flavour"] == "vfio")
        #expect(outcome.metadata["driver"] == "virtio_vfio_pci")
        #expect(outcome.metadata["driver.previous"] == "virtio-pci")
        #expect(outcome.metadata["module"] == "virtio_vfio_pci")
        #expect(outcome.metadata["synth.uuid"] == uuid(1))
        #expect(daemon.notifier.states.withLock { $0 }.contains("STOPPING=1"))
    }

    @Test func driverFlavourAttributeRequestAndRevert() async throws {
        let daemon = DaemonHarness(kernel: try makeKernel(flavourAttribute: true))
        let attribute = "bus/pci/devices/0000:00:04.0/driver_flavour"
        try await daemon.run {
            try daemon.kernel.sysfs.write("vfio\n", to: attribute)
            try await daemon.waitForOutcomes(1)
            #expect(daemon.kernel.driver(of: e1000e) == "vfio-pci")
            // Still reads the flavour after the bind, no longer pending (written right after the outcome is logged).
            try await waitUntil("driver_flavour done") { (try? daemon.kernel.sysfs.read(attribute)) == "vfio" }
            try daemon.kernel.sysfs.write("none", to: attribute)
            try await daemon.waitForOutcomes(2)
        }
        #expect(daemon.kernel.driver(of: e1000e) == "e1000e")
        #expect(try daemon.kernel.sysfs.read(attribute) == "")
        #expect(daemon.logs.outcomes.map(\.message) == ["Device bound to flavour driver", "Device reverted to default driver"])
        #expect(daemon.logs.outcomes[1].metadata["message_id"] == OutcomeKind.reverted.messageID)
    }

    @Test func failedAttributeRequestClearsTheAttribute() async throws {
        let kernel = try makeKernel(flavourAttribute: true)
        kernel.failProbe(driver: "vfio-pci", errno: EIO)
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try kernel.sysfs.write("vfio", to: "bus/pci/devices/0000:00:04.0/driver_flavour")
            try await daemon.waitForOutcomes(1)
        }
        #expect(kernel.driver(of: e1000e) == "e1000e")
        #expect(try kernel.sysfs.read("bus/pci/devices/0000:00:04.0/driver_flavour") == "")
        #expect(daemon.logs.outcomes[0].metadata["message_id"] == OutcomeKind.failedRolledBack.messageID)
        #expect(daemon.logs.outcomes[0].metadata["errno"] == "\(EIO)")
    }

    /// flavourd finishes an attribute request by its sequence number (`clear 1` after a
    /// failure): a request written between its read and its write is number 2, so the module
    /// answers EBUSY and the newer request stays pending; flavourd hears it and carries it
    /// out (a flavour it does not know: rejected, and cleared with `clear 2`).
    @Test func requestWrittenWhileTheAttributeIsReflectedStays() async throws {
        let kernel = try makeKernel(flavourAttribute: true)
        kernel.failProbe(driver: "vfio-pci", errno: EIO)
        let attribute = "bus/pci/devices/0000:00:04.0/driver_flavour"
        final class Count: Sendable {
            let writes = Atomic<Int>(0)
            let beforeFourth = Mutex<String?>(nil)
        }
        let count = Count()
        kernel.beforeWrite { [weak kernel] path in
            guard path.hasSuffix("0000:00:04.0/driver_flavour") else { return }
            switch count.writes.add(1, ordering: .relaxed).newValue {
            // The first write is the test's request, the second flavourd's `clear 1`: a user's
            // newer request lands just before that (the third write).
            case 2: try? kernel?.sysfs.write("lab", to: attribute)
            case 4: count.beforeFourth.withLock { $0 = try? kernel?.sysfs.read(attribute) }
            default: break
            }
        }
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try kernel.sysfs.write("vfio", to: attribute)
            try await daemon.waitForOutcomes(2)
        }
        #expect(count.writes.load(ordering: .relaxed) == 4)
        #expect(count.beforeFourth.withLock { $0 } == "lab pending 2")  // `clear 1` left the newer request
        #expect(try kernel.sysfs.read(attribute) == "")  // and its rejection cleared it
        #expect(daemon.logs.outcomes[0].metadata["message_id"] == OutcomeKind.failedRolledBack.messageID)
        #expect(daemon.logs.outcomes[1].metadata["message_id"] == OutcomeKind.rejected.messageID)
        #expect(daemon.logs.outcomes[1].metadata["driver.flavour"] == "lab")
    }

    @Test func unknownFlavourIsRejectedAndNothingIsWritten() async throws {
        let kernel = try makeKernel()
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            kernel.clearEvents()
            try daemon.request(virtioNet, "nosuch", uuid: uuid(2))
            try await daemon.waitForOutcomes(1)
        }
        #expect(kernel.events.isEmpty)
        let outcome = try #require(daemon.logs.outcomes.first)
        #expect(outcome.message == "Request rejected")
        #expect(outcome.metadata["reason"] == "unknown flavour 'nosuch'; known: vfio, none")
        #expect(outcome.metadata["driver.flavour"] == "nosuch")
    }

    @Test func coldplugAppliesStandingRequestsBeforeReady() async throws {
        let kernel = try makeKernel(config: "request vfio pci:v00001AF4d00001041*\n")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            // READY came after coldplug finished.
            #expect(kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        }
        #expect(daemon.logs.outcomes.first?.metadata["request.origin"] == "coldplug")
        let ready = daemon.notifier.states.withLock { $0.firstIndex(of: "READY=1") }
        #expect(ready != nil)
    }

    @Test func hotplugUnderAStandingRequest() async throws {
        let kernel = try makeKernel(config: "request vfio pci:v00008086d000010D3*\n")
        let daemon = DaemonHarness(kernel: kernel)
        let hotplugged = try PCIAddress(parsing: "0000:00:08.0")
        try await daemon.run {
            try await daemon.waitForOutcomes(1)  // the present e1000e, at coldplug
            try kernel.addDevice(.e1000e("0000:00:08.0", group: 8))
            try await daemon.waitForOutcomes(2)
        }
        #expect(kernel.driver(of: hotplugged) == "vfio-pci")
        #expect(daemon.logs.outcomes.map { $0.metadata["request.origin"] } == ["coldplug", "hotplug"])
    }

    @Test func standingRequestForVFsTurnsAutoprobeOffBeforeTheyAppear() async throws {
        let kernel = try makeKernel(config: "request vfio pci:v00001B36d00000010sv*sd*bc*sc*i*\n", totalVFs: 8)
        // Only the VFs: the PF is on nvme and the pattern matches it too, so deny vfio for the PF's own address.
        try kernel.writeConfig("50-test.conf", "request vfio 0000:02:00.*\n")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            #expect(try kernel.sysfs.read("bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe") == "0")
            kernel.clearEvents()
            try kernel.sysfs.write("8", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
            // The PF matches the first request too, and its coldplug outcome may or may not
            // be logged yet: wait for an outcome for each VF, not for a count of outcomes.
            try await waitUntil("an outcome for each of the 8 VFs") {
                Set(daemon.logs.outcomes.compactMap { $0.metadata["pci.slot_name"]?.description }.filter { $0.hasPrefix("0000:02:00.") }).count == 8
            }
        }
        let outcomes = daemon.logs.outcomes.map { "\($0.message) \($0.metadata["pci.slot_name"] ?? "") \($0.metadata["reason"] ?? "") \($0.metadata["attempts"] ?? "")" }
        for index in 0..<8 {
            #expect(kernel.driver(of: try PCIAddress(parsing: "0000:02:00.\(index)")) == "vfio-pci", "\(outcomes)")
        }
        // The default driver never probed a VF.
        #expect(!kernel.events.contains { if case .probe(_, "nvme", _) = $0 { true } else { false } })
    }

    @Test func revertRequest() async throws {
        let kernel = try makeKernel()
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try daemon.request(virtioNet, "vfio", uuid: uuid(1))
            try await daemon.waitForOutcomes(1)
            try daemon.request(virtioNet, "none", uuid: uuid(2))
            try await daemon.waitForOutcomes(2)
        }
        #expect(kernel.driver(of: virtioNet) == "virtio-pci")
        #expect(kernel.override(of: virtioNet) == nil)
    }

    @Test func deviceRemovedWhileItsRequestIsInFlight() async throws {
        let kernel = try makeKernel()
        kernel.beforeWrite { [weak kernel] path in
            if path.hasSuffix("0000:00:03.0/driver_override") { kernel?.removeDevice(virtioNet) }
        }
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try daemon.request(virtioNet, "vfio", uuid: uuid(3))
            try await daemon.waitForOutcomes(1)
            try await Task.sleep(for: .milliseconds(50))  // a second outcome would be a bug
        }
        #expect(daemon.logs.outcomes.count == 1)
        let outcome = try #require(daemon.logs.outcomes.first)
        // Not "restored to virtio-pci": the device is gone, and nothing was undone.
        #expect(outcome.message == "Request dropped")
        #expect(outcome.metadata["reason"] == "device 0000:00:03.0 was removed while the request was carried out")
        #expect(outcome.metadata["driver"] == nil)
        #expect(!kernel.addresses.contains(virtioNet))
    }

    /// A `remove` heard after the device came back (udevd behind on a VF re-created) does not
    /// drop the device's waiting request; a `remove` of a device that is gone does.
    @Test func aRemoveHeardAfterTheDeviceCameBackDropsNothing() async throws {
        let kernel = try makeKernel()
        let gate = HeldBinds(kernel: kernel, driver: "virtio_vfio_pci")
        let daemon = DaemonHarness(kernel: kernel, maxInFlight: 1)
        try await daemon.run {
            try daemon.request(virtioNet, "vfio", uuid: uuid(31))  // held in the kernel: e1000e's request waits
            try await waitUntil("virtio-net in flight") { daemon.service.requests.pending.count == 1 && kernel.override(of: virtioNet) != nil }
            try daemon.request(e1000e, "vfio", uuid: uuid(32))
            daemon.source.inject(DeviceEvent(action: "remove", sysName: "0000:00:04.0", properties: [:]))
            // Events are handled in order: once this one is recorded, the remove was handled.
            try daemon.request(virtioNet, "vfio", uuid: uuid(33))
            try await waitUntil("three requests recorded") { daemon.service.requests.pending.count == 3 }
            #expect(daemon.logs.outcomes.isEmpty)
            gate.release()
            try await daemon.waitForOutcomes(3)
        }
        #expect(kernel.driver(of: e1000e) == "vfio-pci")
        #expect(!daemon.logs.outcomes.contains { $0.message == "Request dropped" })
    }

    @Test func reloadReadsTheNewConfig() async throws {
        let kernel = try makeKernel()
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try kernel.writeConfig("60-deny.conf", "deny vfio vfio_pci:v00001AF4* virtio_vfio_pci\n")
            await daemon.service.reload()
            try daemon.request(virtioNet, "vfio", uuid: uuid(4))
            try await daemon.waitForOutcomes(1)
        }
        #expect(kernel.driver(of: virtioNet) == "vfio-pci")
        #expect(daemon.notifier.states.withLock { $0 }.contains("RELOADING=1"))
    }

    @Test func brokenConfigOnReloadKeepsTheOldOne() async throws {
        let kernel = try makeKernel()
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try kernel.writeConfig("60-bad.conf", "frobnicate\n")
            await daemon.service.reload()
            try daemon.request(virtioNet, "vfio", uuid: uuid(5))
            try await daemon.waitForOutcomes(1)
        }
        #expect(kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        #expect(daemon.logs.all.contains { $0.message == "Reload failed, keeping the previous configuration" })
    }

    /// After a stop nothing holds on to the daemon's world: no reference cycle (the status
    /// file's view of the queue, the scheduler's report) and no bind thread left lingering
    /// keeps the executor, and with it the sysfs writer, alive.
    @Test func aStoppedDaemonLetsGoOfTheKernel() async throws {
        weak var released: TestKernel?
        do {
            let kernel = try makeKernel()
            released = kernel
            let daemon = DaemonHarness(kernel: kernel)
            try await daemon.run {
                try daemon.request(virtioNet, "vfio", uuid: uuid(1))
                try await daemon.waitForOutcomes(1)
            }
        }
        // Well under the scheduler's 2 s linger: stopping ends the bind threads at once.
        try await waitUntil("the test kernel released", timeout: .seconds(1)) { released == nil }
    }

    /// SIGTERM while the daemon is still starting (before its scheduler or its event source
    /// run): it starts nothing, touches no device, and keeps the standing request it had
    /// accepted in the request journal, unanswered, for the next start.
    @Test(.timeLimit(.minutes(1))) func shutdownBeforeStartUpEndsRunAndTouchesNoDevice() async throws {
        let kernel = try makeKernel(config: "request vfio 0000:00:03.0\n")
        let daemon = DaemonHarness(kernel: kernel)
        daemon.service.shutdown()
        daemon.service.shutdown()  // a second SIGTERM changes nothing
        try await daemon.service.run()
        #expect(kernel.driver(of: virtioNet) == "virtio-pci")
        #expect(kernel.override(of: virtioNet) == nil)
        #expect(daemon.logs.outcomes.isEmpty)
        let files = FileSystem.list(daemon.runDirectory + "/requests")
        let kept = RequestJournal(directory: daemon.runDirectory + "/requests").recover()
        #expect(kept.map { "\($0.address) \($0.flavour) \($0.origin)" } == ["0000:00:03.0 vfio coldplug"], "\(files) \(daemon.logs.all.map(\.message))")
        #expect(daemon.notifier.states.withLock { $0 }.contains("STOPPING=1"))
    }

    /// A restart (SIGTERM, then a new daemon) in the middle of a batch of 64 VF requests:
    /// the binds in flight finish, the requests still waiting are kept under the run
    /// directory and carried out by the next daemon, and every request ends with exactly one
    /// outcome, none of them "dropped"; no VF is left driverless.
    @Test func restartInTheMiddleOfABatchCarriesOutEveryRequestOnce() async throws {
        let kernel = try makeKernel(totalVFs: 64)
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.load(ModuleName("nvme")!)
        try kernel.sysfs.write("64", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        // Give every VF a driver first, so "driverless" would be a loss.
        for index in 0..<64 {
            let vf = "0000:02:0\(index / 8).\(index % 8)"
            try kernel.sysfs.write("nvme", to: "bus/pci/devices/\(vf)/driver_override")
            try kernel.sysfs.write(vf, to: "bus/pci/drivers/nvme/bind")
            try kernel.sysfs.write("\n", to: "bus/pci/devices/\(vf)/driver_override")
        }
        // The first six binds go through; the next wait in the kernel until the daemon is
        // stopping, so the stop comes with binds in flight and the rest queued, whatever
        // the threads' timing.
        final class Gate: Sendable {
            let binds = Atomic<Int>(0)
            let open = Atomic<Bool>(false)
        }
        let gate = Gate()
        kernel.beforeWrite { path in
            guard path.hasSuffix("drivers/vfio-pci/bind"), gate.binds.add(1, ordering: .relaxed).newValue > 6 else { return }
            while !gate.open.load(ordering: .acquiring) { usleep(1_000) }
        }
        let first = DaemonHarness(kernel: kernel, maxInFlight: 4)
        let vfs = (0..<64).map { try! PCIAddress(parsing: "0000:02:0\($0 / 8).\($0 % 8)") }
        try await first.run {
            for (index, vf) in vfs.enumerated() { try first.request(vf, "vfio", uuid: uuid(100 + index)) }
            try await first.waitForOutcomes(6)
            try await waitUntil("all 64 requests taken") { first.service.requests.pending.count == 64 - first.logs.outcomeCount }
            first.service.shutdown()  // with binds in flight and many queued
            gate.open.store(true, ordering: .releasing)
        }
        let done = first.logs.outcomes.compactMap { $0.metadata["synth.uuid"] }
        #expect(done.count < 64)  // the stop really came mid-batch
        #expect(!first.logs.outcomes.contains { $0.message == "Request dropped" })
        #expect(FileSystem.list(first.runDirectory + "/inflight") == [".lock"])  // no bind left half done
        // What waited is in the stopped daemon's request file, for the next start.
        #expect(FileSystem.list(first.runDirectory + "/requests").count == 1)
        let second = DaemonHarness(kernel: kernel, maxInFlight: 4)
        try await second.run {
            try await second.waitForOutcomes(64 - done.count)
        }
        let resumed = second.logs.outcomes.compactMap { $0.metadata["synth.uuid"] }
        #expect((done + resumed).sorted() == (0..<64).map { uuid(100 + $0) }.sorted())  // each request once
        #expect(!second.logs.outcomes.contains { $0.message == "Request dropped" })
        for vf in vfs { #expect(kernel.driver(of: vf) == "vfio-pci", "\(vf)") }
        #expect(second.service.requests.pending.isEmpty)
        #expect(FileSystem.list(second.runDirectory + "/requests").isEmpty)  // its file goes with the last request
    }

    @Test func stormOfRequestsLosesNoneAndLogsExactlyOneOutcomeEach() async throws {
        let kernel = try makeKernel(totalVFs: 1000)
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("1000", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let vfs = kernel.addresses.filter { $0.bus >= 2 }
        #expect(vfs.count == 1000)
        let daemon = DaemonHarness(kernel: kernel, maxInFlight: 8)
        var sent = 0
        try await daemon.run {
            for vf in vfs {
                try daemon.request(vf, "vfio", uuid: uuid(sent))
                sent += 1
            }
            // A second and third request for 100 of them: the last one must win.
            for vf in vfs.prefix(100) {
                try daemon.request(vf, "none", uuid: uuid(sent))
                try daemon.request(vf, "vfio", uuid: uuid(sent + 1))
                sent += 2
            }
            try await daemon.waitForOutcomes(sent, timeout: .seconds(120))
        }
        for vf in vfs { #expect(kernel.driver(of: vf) == "vfio-pci", "\(vf)") }
        let uuids = daemon.logs.outcomes.compactMap { $0.metadata["synth.uuid"] }
        #expect(uuids.count == sent)
        #expect(Set(uuids) == Set((0..<sent).map(uuid)))
    }

    @Test func statusFileShowsSourceAndLastOutcome() async throws {
        let kernel = try makeKernel(config: "request vfio 0000:00:04.0\n")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try daemon.request(virtioNet, "vfio", uuid: uuid(9))
            try await daemon.waitForOutcomes(2)
            // status.json learns an outcome right after the journal does.
            func read() -> String {
                daemon.service.status.flush()
                return String(decoding: (try? FileSystem.read(daemon.runDirectory + "/status.json")) ?? [], as: UTF8.self)
            }
            try await waitUntil("the outcome in status.json") { read().contains(uuid(9)) }
            let text = read()
            #expect(text.contains("\"state\":\"ready\""))
            #expect(text.contains("\"source\":\"test\""))
            #expect(text.contains("\"standing_requests\":[\"vfio 0000:00:04.0 ("))
            #expect(text.contains("\"address\":\"0000:00:03.0\",\"requested\":\"vfio\",\"result\":\"bound\",\"driver\":\"virtio_vfio_pci\",\"uuid\":\"\(uuid(9))\""))
        }
    }

    /// A newer outcome for the same device (another request's, a reload's) does not hide
    /// the outcome of a synthetic request: status.json keeps it by UUID for `flavourctl set`.
    @Test func statusFileKeepsEarlierOutcomesByUUID() async throws {
        let kernel = try makeKernel()
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try daemon.request(virtioNet, "vfio", uuid: uuid(21))
            try await daemon.waitForOutcomes(1)
            try daemon.request(virtioNet, "none", uuid: uuid(22))
            try await daemon.waitForOutcomes(2)
            func read() -> String {
                daemon.service.status.flush()
                return String(decoding: (try? FileSystem.read(daemon.runDirectory + "/status.json")) ?? [], as: UTF8.self)
            }
            try await waitUntil("the outcome in status.json") { read().contains(uuid(22)) }
            let text = read()
            #expect(text.contains("\"last_outcomes\":[{\"address\":\"0000:00:03.0\",\"requested\":\"none\",\"result\":\"reverted\""), "\(text)")
            #expect(text.contains("\"earlier_outcomes\":[{\"address\":\"0000:00:03.0\",\"requested\":\"vfio\",\"result\":\"bound\",\"driver\":\"virtio_vfio_pci\",\"uuid\":\"\(uuid(21))\""), "\(text)")
        }
    }

    /// With one bind at a time and the first bind held in the kernel, status.json shows the
    /// held device in flight and the other request queued; both lists empty out after.
    @Test func statusFileShowsWhatIsInFlightAndQueued() async throws {
        let kernel = try makeKernel()
        let gate = HeldBinds(kernel: kernel, driver: "virtio_vfio_pci")
        let daemon = DaemonHarness(kernel: kernel, maxInFlight: 1)
        func status() throws -> String {
            daemon.service.status.flush()
            return String(decoding: try FileSystem.read(daemon.runDirectory + "/status.json"), as: UTF8.self)
        }
        try await daemon.run {
            try daemon.request(virtioNet, "vfio", uuid: uuid(10))
            try await waitUntil("virtio-net in flight") { (try? status())?.contains("\"in_flight\":[\"0000:00:03.0\"]") ?? false }
            try daemon.request(e1000e, "vfio", uuid: uuid(11))
            try await waitUntil("e1000e queued") { (try? status())?.contains("\"queued\":[\"0000:00:04.0 vfio\"],\"queued_count\":1") ?? false }
            #expect(daemon.logs.outcomes.isEmpty)
            gate.release()
            try await daemon.waitForOutcomes(2)
            try await waitUntil("nothing in flight or queued") {
                let text = (try? status()) ?? ""
                return text.contains("\"in_flight\":[]") && text.contains("\"queued\":[],\"queued_count\":0")
            }
        }
        #expect(kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        #expect(kernel.driver(of: e1000e) == "vfio-pci")
    }
}

@Suite struct DaemonRestartTests {
    /// A daemon SIGKILLed after unbinding a device leaves it driverless with an override;
    /// the restarted one puts it back before READY.
    @Test func restartRollsBackAnInterruptedBindBeforeReady() async throws {
        let kernel = try makeKernel()
        try kernel.load(ModuleName("vfio_pci")!)
        let daemon = DaemonHarness(kernel: kernel)
        let journal = InFlightJournal(directory: daemon.runDirectory + "/inflight")
        // The record a SIGKILLed flavourd left: its locks went with it.
        try journal.begin(InFlightRecord(
            address: e1000e, operation: .bind, previousDriver: DriverName("e1000e"), previousOverride: nil))
        journal.close()  // as the kill did: its locks went, the record of its change in flight stayed
        try kernel.sysfs.write("vfio-pci", to: "bus/pci/devices/0000:00:04.0/driver_override")
        try kernel.sysfs.write("0000:00:04.0", to: "bus/pci/drivers/e1000e/unbind")
        #expect(kernel.driver(of: e1000e) == nil)
        try await daemon.run {
            #expect(kernel.driver(of: e1000e) == "e1000e")
            #expect(kernel.override(of: e1000e) == nil)
        }
        #expect(daemon.logs.all.contains { $0.message == "Interrupted change rolled back" })
        #expect(journal.records().isEmpty)
    }
}
