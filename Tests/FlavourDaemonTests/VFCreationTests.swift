import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Testing

#if canImport(Glibc)
import Glibc  // unlink
#endif

/// A standing request's binds of new VFs wait until the kernel has created all of them: the
/// PF's `change` at the end of its `sriov_numvfs` write (`VFCreations`).
@Suite(.serialized) struct VFCreationTests {
    static let pfAddress = try! PCIAddress(parsing: "0000:01:00.0")
    static let pf = "bus/pci/devices/0000:01:00.0"
    static let vfs = KernelAddTests.vfs
    static let waiting = "VF binds wait for the PF to finish creating VFs"
    static let released = "Held VF requests released: the PFs finished creating VFs"

    /// A daemon whose standing request covers every VF of the PF, hearing the kernel's own
    /// group beside udevd's, with `timing`.
    static func daemon(_ timing: VFCreationTiming, kernelAdds: Bool = true) throws -> DaemonHarness {
        DaemonHarness(kernel: try makeKernel(config: "request vfio 0000:02:00.*\n"), kernelAdds: kernelAdds) {
            $0.vfCreation = timing
        }
    }

    /// With no `change` from the PF yet, the VFs stay without a driver, however long the
    /// creation takes (here the quiet time is ten minutes); the PF's `change`, heard from the
    /// kernel's own group while udevd lags, lets all four go at once. Fails when the VFs are
    /// bound as their `add`s come.
    @Test func newVFsWaitForThePFsChange() async throws {
        let daemon = try Self.daemon(VFCreationTiming(quiet: .seconds(600), settle: .zero, limit: .seconds(600)))
        daemon.kernel.announceVFsCreated(false)
        try await daemon.run {
            try daemon.source.udevLagging { try daemon.kernel.sysfs.write("4", to: Self.pf + "/sriov_numvfs") }
            try await waitUntil("the hold") { daemon.logs.all.contains { $0.message == Self.waiting } }
            try await Task.sleep(for: .milliseconds(300))
            #expect(daemon.logs.outcomeCount == 0)
            for vf in Self.vfs { #expect(daemon.kernel.driver(of: vf) == nil, "\(vf)") }
            // sriov_enable's `change`, as the kernel sends it (a synthetic one reads the same).
            try daemon.source.udevLagging { try daemon.kernel.sysfs.write("change", to: Self.pf + "/uevent") }
            try await daemon.waitForOutcomes(4)
        }
        KernelAddTests.expectOneBindEach(daemon)
        let release = try #require(daemon.logs.all.first { $0.message == Self.released })
        #expect(release.metadata["requests"] == "4")
        #expect(release.metadata["queued"] == "4")
        #expect(release.metadata["pci.physfn"] == "0000:01:00.0")
        #expect(daemon.logs.all.count { $0.message == Self.waiting } == 1)
    }

    /// The test kernel's `sriov_numvfs` write ends with the PF's `change`, as sriov_enable's
    /// does: with the daemon's own timing, the VFs are bound soon after, and only after.
    @Test func theKernelsChangeAfterTheLastVFReleasesThem() async throws {
        let daemon = try await Self.createFourVFs(
            VFCreationTiming(quiet: .seconds(600), settle: .milliseconds(50), limit: .seconds(600)), announced: true, kernelAdds: false)
        #expect(daemon.logs.all.contains { $0.message == Self.released })
    }

    /// Waits until status.json says `count` binds are held (and which PFs create VFs).
    static func waitUntilHeld(_ count: Int, _ daemon: DaemonHarness, creating: String? = nil) async throws {
        let read = { String(decoding: (try? FileSystem.read(daemon.runDirectory + "/status.json")) ?? [], as: UTF8.self) }
        let expected = "\"held_for_vf_creations\":\(count)," + (creating.map { "\"creating_vfs\":\($0)" } ?? "")
        try await waitUntil("\(expected) in status.json: \(read())") { read().contains(expected) }
    }

    /// Four VFs created under a daemon with `timing`, the PF's `change` sent or not
    /// (`announced`); returns once each VF has its one outcome, a bind.
    static func createFourVFs(_ timing: VFCreationTiming, announced: Bool, kernelAdds: Bool = true) async throws -> DaemonHarness {
        let daemon = try Self.daemon(timing, kernelAdds: kernelAdds)
        daemon.kernel.announceVFsCreated(announced)
        try await daemon.run {
            try daemon.kernel.sysfs.write("4", to: Self.pf + "/sriov_numvfs")
            try await daemon.waitForOutcomes(4)
        }
        KernelAddTests.expectOneBindEach(daemon)
        return daemon
    }

    /// No `change` comes (VFs rescanned one by one, a kernel that does not send it): the VFs
    /// go `quiet` after the last was heard.
    @Test func withoutAChangeTheVFsGoAfterTheQuietTime() async throws {
        let daemon = try await Self.createFourVFs(
            VFCreationTiming(quiet: .milliseconds(200), settle: .zero, limit: .seconds(600)), announced: false)
        let release = try #require(daemon.logs.all.first { $0.message == Self.released })
        #expect(Int(release.metadata["held.ms"] ?? "") ?? 0 >= 200)
    }

    /// A creation that never ends: the requests go once they waited `limit`, and the journal
    /// says why.
    @Test func theLimitLetsThemGo() async throws {
        let daemon = try await Self.createFourVFs(
            VFCreationTiming(quiet: .seconds(600), settle: .zero, limit: .milliseconds(200)), announced: false)
        let release = try #require(daemon.logs.all.first { $0.message.hasPrefix("Held VF requests released") })
        #expect(release.message == "Held VF requests released: they waited the longest a request is held")
        #expect(release.level == .notice)
    }

    /// VFs heard before the kernel linked them to their PF (`physfn` comes after the `add`,
    /// pci_iov_add_virtfn): still being added (no procfs entry), they are held too, and bound
    /// once released, with no bind attempted before. Fails when such a VF is taken for a
    /// device of its own and bound at once.
    @Test func aVFHeardBeforeItsPhysfnLinkIsHeldToo() async throws {
        let daemon = try Self.daemon(VFCreationTiming(quiet: .seconds(600), settle: .seconds(2), limit: .seconds(600)))
        daemon.kernel.deferBusAdd()
        try await daemon.run {
            try daemon.kernel.sysfs.write("4", to: Self.pf + "/sriov_numvfs")
            for vf in Self.vfs { #expect(!FileSystem.exists(daemon.kernel.sysfsRoot + "/bus/pci/devices/\(vf)/physfn")) }
            try await Task.sleep(for: .milliseconds(100))
            for vf in Self.vfs { try daemon.kernel.finishAdding(vf) }
            #expect(!daemon.kernel.events.contains { if case .overrideWritten = $0 { true } else { false } })
            try await daemon.waitForOutcomes(4)
        }
        KernelAddTests.expectOneBindEach(daemon)
        let release = try #require(daemon.logs.all.first { $0.message == Self.released })
        #expect(release.metadata["requests"] == "4")
    }

    /// VFs removed while held (sriov_numvfs back to 0) get no request and no outcome; the PF's
    /// `change` afterwards releases nothing.
    @Test func vfsRemovedWhileHeldGetNoRequest() async throws {
        let daemon = try Self.daemon(VFCreationTiming(quiet: .seconds(600), settle: .zero, limit: .seconds(600)))
        daemon.kernel.announceVFsCreated(false)
        try await daemon.run {
            try daemon.kernel.sysfs.write("4", to: Self.pf + "/sriov_numvfs")
            try await Self.waitUntilHeld(4, daemon)
            try daemon.kernel.sysfs.write("0", to: Self.pf + "/sriov_numvfs")
            try daemon.kernel.sysfs.write("change", to: Self.pf + "/uevent")
            try daemon.request(virtioNet, "vfio", uuid: uuid(1))  // the mark: every event before it was handled
            try await daemon.waitForOutcomes(1)
        }
        #expect(daemon.logs.outcomes.map { $0.metadata["pci.slot_name"] } == ["0000:00:03.0"])
        #expect(!daemon.logs.all.contains { $0.message == Self.released })
        #expect(daemon.logs.all.count { $0.message == "Held request dropped: the VF was removed" } == 4)
        #expect(daemon.service.requests.pending.isEmpty)
    }

    /// A stop while VFs are held: nothing is bound half-way, the journal says the held
    /// requests were dropped, and the next start's standing request binds the VFs.
    @Test func aStopWhileHeldLeavesTheVFsToTheNextStart() async throws {
        let timing = VFCreationTiming(quiet: .seconds(600), settle: .zero, limit: .seconds(600))
        let first = try Self.daemon(timing)
        first.kernel.announceVFsCreated(false)
        try await first.run {
            try first.kernel.sysfs.write("4", to: Self.pf + "/sriov_numvfs")
            try await waitUntil("the hold") { first.logs.all.contains { $0.message == Self.waiting } }
        }
        #expect(first.logs.outcomeCount == 0)
        let dropped = try #require(first.logs.all.first { $0.message.hasPrefix("Requests held for VF creations dropped") })
        #expect(dropped.metadata["requests"] == "4")
        let second = DaemonHarness(kernel: first.kernel, kernelAdds: true) { $0.vfCreation = timing }
        try await second.run {
            try await second.waitForOutcomes(4)
        }
        KernelAddTests.expectOneBindEach(second)
    }

    /// status.json counts the held binds and names the PF still creating VFs, so `flavourctl
    /// status` shows why nothing is queued yet; both clear once the PF's `change` lets them go.
    @Test func statusShowsTheHeldBinds() async throws {
        let daemon = try Self.daemon(VFCreationTiming(quiet: .seconds(600), settle: .zero, limit: .seconds(600)))
        daemon.kernel.announceVFsCreated(false)
        try await daemon.run {
            try daemon.kernel.sysfs.write("4", to: Self.pf + "/sriov_numvfs")
            try await Self.waitUntilHeld(4, daemon, creating: #"["0000:01:00.0"]"#)
            try daemon.kernel.sysfs.write("change", to: Self.pf + "/uevent")
            try await daemon.waitForOutcomes(4)
            try await Self.waitUntilHeld(0, daemon, creating: "[]")
        }
        KernelAddTests.expectOneBindEach(daemon)
    }

    /// A reload while VFs are held: the held binds were decided by the old standing requests,
    /// so they go to the reload's coldplug, which reads each VF again. With the standing
    /// request gone, none is bound (not even after the PF's `change`); with it kept, each is
    /// bound once.
    @Test(arguments: [false, true]) func aReloadHandsTheHeldBindsToItsColdplug(keep: Bool) async throws {
        let daemon = try Self.daemon(VFCreationTiming(quiet: .seconds(600), settle: .zero, limit: .seconds(600)))
        daemon.kernel.announceVFsCreated(false)
        try await daemon.run {
            try daemon.kernel.sysfs.write("4", to: Self.pf + "/sriov_numvfs")
            try await Self.waitUntilHeld(4, daemon)
            if !keep { #expect(unlink(daemon.kernel.configDirectory + "/50-test.conf") == 0) }
            await daemon.service.reload()
            try daemon.kernel.sysfs.write("change", to: Self.pf + "/uevent")
            if keep {
                try await daemon.waitForOutcomes(4)
            } else {
                try daemon.request(virtioNet, "vfio", uuid: uuid(1))  // the mark: every event before it was handled
                try await daemon.waitForOutcomes(1)
            }
        }
        if keep {
            KernelAddTests.expectOneBindEach(daemon)
        } else {
            #expect(daemon.logs.outcomes.map { $0.metadata["pci.slot_name"] } == ["0000:00:03.0"])
            for vf in Self.vfs { #expect(daemon.kernel.driver(of: vf) == nil, "\(vf)") }
        }
        #expect(!daemon.logs.all.contains { $0.message == Self.released })
        let handed = try #require(daemon.logs.all.first { $0.message == "Requests held for VF creations handed to the reload's coldplug" })
        #expect(handed.metadata["requests"] == "4")
    }
}
