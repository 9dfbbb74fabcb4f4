import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Testing

/// On the udev source flavourd also hears the kernel's own `add` (`--kernel-adds yes`): a VF
/// that a standing request covers is bound without waiting for udevd's rules, and udevd's copy
/// of the same uevent (the same SEQNUM) makes no second request.
@Suite(.serialized) struct KernelAddTests {
    static let pf = "bus/pci/devices/0000:01:00.0/sriov_numvfs"
    static let vfs = (0..<4).map { try! PCIAddress(parsing: "0000:02:00.\($0)") }

    /// One outcome a VF, each a bind to vfio-pci, and no request left waiting.
    static func expectOneBindEach(_ daemon: DaemonHarness, alsoBound: Int = 0) {
        for vf in vfs { #expect(daemon.kernel.driver(of: vf) == "vfio-pci", "\(vf)") }
        let outcomes = daemon.logs.outcomes
        #expect(outcomes.count == vfs.count + alsoBound)
        for vf in vfs {
            #expect(outcomes.count(where: { $0.metadata["pci.slot_name"] == vf.description }) == 1, "\(vf)")
        }
        #expect(outcomes.allSatisfy { $0.metadata["message_id"] == OutcomeKind.bound.messageID })
        #expect(daemon.service.requests.pending.isEmpty)
    }

    /// A daemon whose standing request covers every VF of the PF.
    static func standingDaemon(kernelAdds: Bool) throws -> DaemonHarness {
        DaemonHarness(kernel: try makeKernel(config: "request vfio 0000:02:00.*\n"), kernelAdds: kernelAdds)
    }

    /// Four VFs appear while udevd lags: only the kernel's `add`s are heard (with `kernelAdds`).
    static func createVFsWhileUdevLags(_ daemon: DaemonHarness) throws {
        try daemon.source.udevLagging { try daemon.kernel.sysfs.write("4", to: pf) }
    }

    /// After the VFs' four outcomes: a synthetic request, whose outcome (the fifth) says every
    /// event before it was handled (events are handled in order).
    static func markEverythingHandled(_ daemon: DaemonHarness) async throws {
        try daemon.request(virtioNet, "vfio", uuid: uuid(1))
        try await daemon.waitForOutcomes(5)
    }

    static func status(_ daemon: DaemonHarness) -> String {
        daemon.service.status.flush()
        return String(decoding: (try? FileSystem.read(daemon.runDirectory + "/status.json")) ?? [], as: UTF8.self)
    }

    /// udevd is stuck behind a slow rule and has sent nothing: the kernel's adds alone bind
    /// the VFs.
    @Test func aVFIsBoundOnTheKernelsAddAlone() async throws {
        let daemon = try Self.standingDaemon(kernelAdds: true)
        try await daemon.run {
            try Self.createVFsWhileUdevLags(daemon)
            try await daemon.waitForOutcomes(4)
        }
        Self.expectOneBindEach(daemon)
        #expect(Self.status(daemon).contains("\"source\":\"test+kernel-add\""))
    }

    /// udevd catches up after the binds: its copies are dropped (no second request, no second
    /// outcome). The synthetic request sent after them is the mark that they were handled:
    /// events are handled in order, and the shutdown leaves any request still queued in the
    /// request journal, so a copy that made one shows either as an outcome or as pending.
    @Test func udevsLateCopyMakesNoSecondRequest() async throws {
        let daemon = try Self.standingDaemon(kernelAdds: true)
        try await daemon.run {
            try Self.createVFsWhileUdevLags(daemon)
            try await daemon.waitForOutcomes(4)
            #expect(daemon.source.udevCatchesUp() >= 4)
            try await Self.markEverythingHandled(daemon)
        }
        Self.expectOneBindEach(daemon, alsoBound: 1)
        #expect(daemon.logs.all.count(where: { $0.message == "udevd's copy of a kernel add dropped" }) == 4)
    }

    /// udevd's copies are read ahead of the kernel's own adds (the source drains two sockets
    /// in turn): the copies bind the VFs, and the kernel's adds that follow make no second
    /// request. Fails when only udevd's copies are deduplicated.
    @Test func theKernelsAddAfterUdevdsCopyMakesNoSecondRequest() async throws {
        let daemon = try Self.standingDaemon(kernelAdds: true)
        try await daemon.run {
            try daemon.source.udevAhead { try daemon.kernel.sysfs.write("4", to: Self.pf) }
            try await daemon.waitForOutcomes(4)
            try await Self.markEverythingHandled(daemon)
        }
        Self.expectOneBindEach(daemon, alsoBound: 1)
        #expect(daemon.logs.all.count(where: { $0.message == "The kernel's add after udevd's copy dropped" }) == 4)
    }

    /// The kernel-add socket overran: udevd's copies, which no remembered SEQNUM matches, bind
    /// the VFs, and the overrun itself starts no resync.
    @Test func udevsCopyBindsWhenTheKernelsAddWasLost() async throws {
        let daemon = try Self.standingDaemon(kernelAdds: true)
        try await daemon.run {
            try daemon.source.losingKernelAdds { try daemon.kernel.sysfs.write("4", to: Self.pf) }
            try await daemon.waitForOutcomes(4)
            try await Self.markEverythingHandled(daemon)
        }
        Self.expectOneBindEach(daemon, alsoBound: 1)
        #expect(daemon.logs.all.contains { $0.message == "Kernel add monitor overran: udevd's copies of the lost adds follow" })
        #expect(!daemon.logs.all.contains { $0.metadata["message_id"] == JournalNotice.eventsLost.messageID })
    }

    /// udevd gave a device's `add` a flavour (a rule's ENV{DRIVER_FLAVOUR}): its copy is a
    /// request, carried out although the kernel's `add` of the same uevent was handled.
    @Test func udevsCopyThatCarriesARequestIsNotDropped() async throws {
        let kernel = try makeKernel()
        let daemon = DaemonHarness(kernel: kernel, kernelAdds: true)
        try await daemon.run {
            try daemon.source.udevDropping {
                try kernel.sysfs.write("1", to: Self.pf)
            }
            let vf = Self.vfs[0]
            // The kernel's add (no request covers it) went first; udevd's copy follows with the rule's flavour.
            daemon.source.inject(DeviceEvent(action: "add", sysName: vf.description, properties: [
                "MODALIAS": try kernel.sysfs.read("bus/pci/devices/\(vf)/modalias"),
            ], seqnum: 1_000_000, heard: .kernel))
            daemon.source.inject(DeviceEvent(action: "add", sysName: vf.description, properties: [
                "DRIVER_FLAVOUR": "vfio",
            ], seqnum: 1_000_000, heard: .udev))
            try await daemon.waitForOutcomes(1)
        }
        #expect(kernel.driver(of: Self.vfs[0]) == "vfio-pci")
    }

    /// A synthetic `add` that carries a request (`echo "add UUID DRIVERFLAVOUR=vfio" >
    /// uevent`) is one request, one outcome: the kernel's `add` of it is left to udevd's copy.
    @Test func aSyntheticAddWithARequestIsCarriedOutOnce() async throws {
        let daemon = DaemonHarness(kernel: try makeKernel(), kernelAdds: true)
        try await daemon.run {
            try daemon.kernel.sysfs.write("add \(uuid(2)) DRIVERFLAVOUR=vfio", to: "bus/pci/devices/\(virtioNet)/uevent")
            // The mark: a request sent after it, on another device. Events are handled in order,
            // and a second request for virtio-net would show as an outcome (bound again,
            // superseded) or, not yet carried out at the shutdown, as pending.
            try daemon.request(e1000e, "vfio", uuid: uuid(3))
            try await daemon.waitForOutcomes(2)
        }
        let outcomes = daemon.logs.outcomes.filter { $0.metadata["pci.slot_name"] == virtioNet.description }
        #expect(outcomes.map { $0.metadata["synth.uuid"] } == [uuid(2)])
        #expect(daemon.kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        #expect(daemon.service.requests.pending.isEmpty)
    }

    /// The kernel's adds are heard only while a standing request may cover a new device: not
    /// without one (each `add` would wake the daemon twice, for nothing), from the reload that
    /// brings one (VFs are then bound on the kernel's `add` alone), and no longer after the
    /// reload that takes it away.
    @Test func theKernelsAddsAreHeardOnlyWhileAStandingRequestExists() async throws {
        let kernel = try makeKernel()
        let daemon = DaemonHarness(kernel: kernel, kernelAdds: true)
        try await daemon.run {
            #expect(!daemon.source.listensForKernelAdds)
            try kernel.writeConfig("50-test.conf", "request vfio 0000:02:00.*\n")
            await daemon.service.reload()
            #expect(daemon.source.listensForKernelAdds)
            try Self.createVFsWhileUdevLags(daemon)
            try await daemon.waitForOutcomes(4)
            try kernel.writeConfig("50-test.conf", "")
            await daemon.service.reload()
            #expect(!daemon.source.listensForKernelAdds)
            #expect(daemon.source.udevCatchesUp() >= 4)  // dropped as copies: no second outcome
            try await Self.markEverythingHandled(daemon)
        }
        Self.expectOneBindEach(daemon, alsoBound: 1)
    }

    /// `--kernel-adds no`: only udevd's events, as before; a VF waits for udevd's copy.
    @Test func withoutKernelAddsTheVFWaitsForUdevd() async throws {
        let daemon = try Self.standingDaemon(kernelAdds: false)
        let kernel = daemon.kernel
        try await daemon.run {
            try Self.createVFsWhileUdevLags(daemon)
            // The mark: a request sent after the VFs appeared is carried out while they wait.
            try daemon.request(virtioNet, "vfio", uuid: uuid(1))
            try await daemon.waitForOutcomes(1)
            for vf in Self.vfs { #expect(kernel.driver(of: vf) == nil, "\(vf)") }
            #expect(daemon.source.udevCatchesUp() >= 4)
            try await daemon.waitForOutcomes(5)
        }
        Self.expectOneBindEach(daemon, alsoBound: 1)
        #expect(Self.status(daemon).contains("\"source\":\"test\""))
    }
}
