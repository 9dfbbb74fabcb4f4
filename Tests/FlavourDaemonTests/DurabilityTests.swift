import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Requests that outlive a stopped daemon, lost events, and the start that holds up nothing.
@Suite(.serialized) struct DurabilityTests {
    static let attribute = "bus/pci/devices/0000:00:04.0/driver_flavour"

    /// Written to driver_flavour while flavourd was stopped (its uevent heard by nobody): the
    /// start reads the attribute, carries the request out, and marks it done; a value it
    /// rejects is cleared.
    @Test func attributeRequestsWrittenWhileStoppedAreCarriedOutAtStart() async throws {
        let kernel = try makeKernel(flavourAttribute: true)
        try kernel.sysfs.write("vfio", to: Self.attribute)
        try kernel.sysfs.write("nosuch", to: "bus/pci/devices/0000:00:03.0/driver_flavour")
        #expect(try kernel.sysfs.read(Self.attribute) == "vfio pending 1")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try await waitUntil("driver_flavour done") { (try? kernel.sysfs.read(Self.attribute)) == "vfio" }
        }
        #expect(kernel.driver(of: e1000e) == "vfio-pci")
        #expect(try kernel.sysfs.read("bus/pci/devices/0000:00:03.0/driver_flavour") == "")
        #expect(kernel.driver(of: virtioNet) == "virtio-pci")
        let outcomes = daemon.logs.outcomes.map { "\($0.metadata["pci.slot_name"] ?? "") \($0.metadata["message_id"] ?? "") \($0.metadata["request.origin"] ?? "-")" }
        #expect(Set(outcomes) == [
            "0000:00:04.0 \(OutcomeKind.bound.messageID) attribute", "0000:00:03.0 \(OutcomeKind.rejected.messageID) -",
        ])
    }

    /// The uevent of a request the start already took from the attribute, heard while that
    /// request runs or after it ended, is not a second request: one outcome.
    @Test func theUeventOfARequestTheStartTookIsNotASecondOne() async throws {
        let kernel = try makeKernel(flavourAttribute: true)
        try kernel.sysfs.write("vfio", to: Self.attribute)  // heard by nobody: the daemon is not running
        let gate = HeldBinds(kernel: kernel, driver: "vfio-pci")
        let daemon = DaemonHarness(kernel: kernel)
        let uevent = DeviceEvent(action: "change", sysName: "0000:00:04.0", properties: [
            "DRIVER_FLAVOUR": "vfio", DriverFlavourState.sequenceKey: "1",
        ])
        try await daemon.run(settled: false) {
            daemon.source.inject(uevent)  // while the start's request for it runs
            try await waitUntil("the uevent handled") { daemon.service.requests.pending.count == 1 }
            gate.release()
            try await waitUntil("driver_flavour done") { (try? kernel.sysfs.read(Self.attribute)) == "vfio" }
            daemon.source.inject(uevent)  // after it ended
            daemon.source.inject(DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["SYNTH_ARG_DRIVERFLAVOUR": "vfio"]))
            try await daemon.waitForOutcomes(2)
        }
        let outcomes = daemon.logs.outcomes.map { "\($0.metadata["pci.slot_name"] ?? "") \($0.metadata["request.origin"] ?? "")" }
        #expect(outcomes == ["0000:00:04.0 attribute", "0000:00:03.0 synthetic"])
        #expect(kernel.driver(of: e1000e) == "vfio-pci")
    }

    /// An overrun reported by the event source: the requests written meanwhile reach the
    /// daemon only through sysfs. The resync reads the driver_flavour attributes (each
    /// device's newest request), the standing requests (a device added in the gap) and the VF
    /// autoprobe state, and the journal says events were lost and the resync ran.
    @Test func anOverrunIsAnsweredWithAResync() async throws {
        let kernel = try makeKernel(config: "request vfio pci:v00001AF4d00001041*\n", flavourAttribute: true)
        let daemon = DaemonHarness(kernel: kernel)
        let hotplugged = try PCIAddress(parsing: "0000:00:07.0")
        try await daemon.run {
            try await daemon.waitForOutcomes(1)  // the present virtio-net, at coldplug
            let lost = daemon.source.losingEvents {
                try? kernel.sysfs.write("none", to: Self.attribute)
                try? kernel.sysfs.write("vfio", to: Self.attribute)  // the newest: what the attribute holds
                try? kernel.sysfs.write("change \(uuid(7)) DRIVERFLAVOUR=vfio", to: "bus/pci/devices/0000:01:00.0/uevent")
                try? kernel.addDevice(.virtioNet("0000:00:07.0", group: 7))
            }
            #expect(lost >= 4)
            try await waitUntil("the hotplugged device and e1000e bound") {
                kernel.driver(of: hotplugged) == "virtio_vfio_pci" && kernel.driver(of: e1000e) == "vfio-pci"
            }
            try await waitUntil("driver_flavour done") { (try? kernel.sysfs.read(Self.attribute)) == "vfio" }
        }
        let notices = daemon.logs.all.filter { $0.metadata["message_id"] == JournalNotice.eventsLost.messageID
            || $0.metadata["message_id"] == JournalNotice.resynced.messageID }
        #expect(notices.map(\.message) == [JournalNotice.eventsLost.message.description, JournalNotice.resynced.message.description])
        #expect(notices.last?.metadata["resync.requests"] == "2")
        #expect(notices.last?.metadata["resync.ms"] != nil)
        // The synthetic request in the gap left no trace: no outcome, the PF where it was.
        #expect(!daemon.logs.outcomes.contains { $0.metadata["synth.uuid"] == uuid(7) })
        #expect(kernel.driver(of: nvmePF) == "nvme")
        let origins = daemon.logs.outcomes.map { "\($0.metadata["pci.slot_name"] ?? "") \($0.metadata["request.origin"] ?? "")" }
        #expect(origins == ["0000:00:03.0 coldplug", "0000:00:04.0 attribute", "0000:00:07.0 coldplug"] || origins == ["0000:00:03.0 coldplug", "0000:00:07.0 coldplug", "0000:00:04.0 attribute"], "\(origins)")
    }

    /// READY=1 does not wait for a bind: with the standing request's bind held in the kernel,
    /// the daemon is ready and not settled; once the bind returns it is settled. A device
    /// without a driver that the request covers has its driver_override written before READY,
    /// so its default driver, loaded meanwhile (as udev's coldplug trigger loads it), does not
    /// take it.
    @Test func readyComesBeforeTheStandingRequestsBindsAndTheDeviceIsHeldForIt() async throws {
        let kernel = try TestKernel(
            modules: [.vfioPCI, .e1000e], loaded: [.virtioPCI], devices: [.e1000e("0000:00:04.0", group: 4)])
        try kernel.writeConfig("50-test.conf", "request vfio 0000:00:04.0\n")
        #expect(kernel.driver(of: e1000e) == nil)
        let gate = HeldBinds(kernel: kernel, driver: "vfio-pci")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run(settled: false) {
            #expect(!daemon.service.status.isSettled)
            #expect(kernel.override(of: e1000e) == "vfio-pci")  // held before READY
            try kernel.load(ModuleName("e1000e")!)  // the trigger loads the default driver
            #expect(kernel.driver(of: e1000e) == nil)
            gate.release()
            try await waitUntil("settled") { daemon.service.status.isSettled }
        }
        #expect(kernel.driver(of: e1000e) == "vfio-pci")
        #expect(!kernel.events.contains { if case .probe(_, "e1000e", _) = $0 { true } else { false } })
    }

    /// A held device whose request fails is let go: the override the start wrote goes, and the
    /// kernel gives it its default driver, as it would have without flavourd.
    @Test func aHeldDeviceWhoseRequestFailsGetsItsDefaultDriver() async throws {
        let kernel = try TestKernel(
            modules: [.vfioPCI, .e1000e], loaded: [.virtioPCI], devices: [.e1000e("0000:00:04.0", group: 4)])
        try kernel.writeConfig("50-test.conf", "request vfio 0000:00:04.0\n")
        kernel.failProbe(driver: "vfio-pci", errno: EIO)
        kernel.beforeWrite { [weak kernel] path in
            // The default driver arrives (udev's trigger) while the request runs.
            if path.hasSuffix("drivers/vfio-pci/bind") { try? kernel?.load(ModuleName("e1000e")!) }
        }
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {}
        #expect(daemon.logs.outcomes.first?.metadata["message_id"] == OutcomeKind.failedRolledBack.messageID)
        #expect(kernel.override(of: e1000e) == nil)
        #expect(kernel.driver(of: e1000e) == "e1000e")
    }
}
