import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A driver whose bind does not return: the test kernel's bind of the VFs in `held` waits
/// until the gate opens, as a real probe or remove that hangs keeps its write in the kernel.
final class HangingBinds: Sendable {
    let held: Set<PCIAddress>
    private let open = Atomic<Bool>(false)

    init(kernel: TestKernel, held: Set<PCIAddress>) {
        self.held = held
        kernel.beforeWrite(withValue: { [self] path, value in
            guard path.hasSuffix("drivers/vfio-pci/bind"), let address = try? PCIAddress(parsing: value), held.contains(address) else { return }
            while !open.load(ordering: .acquiring) { usleep(1_000) }
        })
    }

    func release() { open.store(true, ordering: .releasing) }
}

@Suite(.serialized) struct StuckDriverTests {
    static func vfs(_ kernel: TestKernel, count: Int) throws -> [PCIAddress] {
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("\(count)", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        return (0..<count).map { try! PCIAddress(parsing: "0000:02:00.\($0)") }
    }

    /// Both bind threads (`--max-in-flight 2`) in a driver that does not return: after the
    /// deadline each device is reported stuck, once (a journal entry with its own MESSAGE_ID,
    /// status.json's `stuck`), replacement threads serve the other devices, and when the
    /// driver returns the stuck requests end as asked and nothing is stuck any more.
    @Test(.timeLimit(.minutes(1))) func stuckRequestsAreReportedAndOthersAreServed() async throws {
        let kernel = try makeKernel(totalVFs: 8)
        let vfs = try Self.vfs(kernel, count: 6)
        let hanging = HangingBinds(kernel: kernel, held: Set(vfs.prefix(2)))
        let daemon = DaemonHarness(kernel: kernel, maxInFlight: 2, stuckAfter: .milliseconds(200))
        func status() -> String {
            daemon.service.status.flush()
            return String(decoding: (try? FileSystem.read(daemon.runDirectory + "/status.json")) ?? [], as: UTF8.self)
        }
        try await daemon.run {
            for (index, vf) in vfs.prefix(2).enumerated() { try daemon.request(vf, "vfio", uuid: uuid(index)) }
            try await waitUntil("two stuck notices") {
                daemon.logs.all.count { $0.metadata["message_id"] == JournalNotice.stuck.messageID } == 2
            }
            try await waitUntil("status.json lists both as stuck") { status().contains("\"stuck\":[\"0000:02:00.0\",\"0000:02:00.1\"]") }
            // Both threads hang in the kernel; the others' requests are carried out all the same.
            for (index, vf) in vfs.dropFirst(2).enumerated() { try daemon.request(vf, "vfio", uuid: uuid(10 + index)) }
            try await daemon.waitForOutcomes(4)
            #expect(vfs.dropFirst(2).allSatisfy { kernel.driver(of: $0) == "vfio-pci" })
            #expect(vfs.prefix(2).allSatisfy { kernel.driver(of: $0) == nil })
            #expect(daemon.service.status.isSettled)
            hanging.release()
            try await daemon.waitForOutcomes(6)
            try await waitUntil("nothing stuck in status.json") { status().contains("\"stuck\":[]") }
        }
        for vf in vfs { #expect(kernel.driver(of: vf) == "vfio-pci", "\(vf)") }
        let stuck = daemon.logs.all.filter { $0.metadata["message_id"] == JournalNotice.stuck.messageID }
        #expect(Set(stuck.compactMap { $0.metadata["pci.slot_name"] }) == ["0000:02:00.0", "0000:02:00.1"])
        #expect(stuck.allSatisfy { $0.level == .warning && $0.message == "Device stuck in the kernel" && $0.metadata["synth.uuid"] != nil })
        #expect(daemon.logs.outcomes.count == 6)  // each request once, the stuck ones too
    }

    /// The replacements are bounded: with `--max-in-flight 1`, one stuck request gets one
    /// replacement; when that one hangs too, nothing else starts until one returns.
    @Test(.timeLimit(.minutes(1))) func replacementThreadsAreBounded() async throws {
        let kernel = try makeKernel(totalVFs: 8)
        let vfs = try Self.vfs(kernel, count: 3)
        let hanging = HangingBinds(kernel: kernel, held: Set(vfs.prefix(2)))
        let daemon = DaemonHarness(kernel: kernel, maxInFlight: 1, stuckAfter: .milliseconds(100))
        try await daemon.run {
            for (index, vf) in vfs.enumerated() { try daemon.request(vf, "vfio", uuid: uuid(index)) }
            try await waitUntil("two stuck notices") {
                daemon.logs.all.count { $0.metadata["message_id"] == JournalNotice.stuck.messageID } == 2
            }
            #expect(daemon.logs.outcomes.isEmpty)
            #expect(daemon.service.requests.pending.count == 3)  // the third waits: no third thread
            hanging.release()
            try await daemon.waitForOutcomes(3)
        }
        for vf in vfs { #expect(kernel.driver(of: vf) == "vfio-pci", "\(vf)") }
    }

    /// systemd's watchdog is fed while the daemon is idle or gets on with its requests, and
    /// not while requests wait that no thread can take (here: no stuck deadline, the one bind
    /// thread hangs); it is fed again once the bind returns.
    @Test(.timeLimit(.minutes(1))) func theWatchdogIsFedOnlyOnProgressOrIdle() async throws {
        let kernel = try makeKernel(totalVFs: 8)
        let vfs = try Self.vfs(kernel, count: 2)
        let hanging = HangingBinds(kernel: kernel, held: [vfs[0]])
        let daemon = DaemonHarness(kernel: kernel, maxInFlight: 1, stuckAfter: nil, watchdogInterval: .milliseconds(40))
        try await daemon.run {
            try await waitUntil("fed while idle") { daemon.notifier.watchdogCount >= 2 }
            try daemon.request(vfs[0], "vfio", uuid: uuid(0))
            try daemon.request(vfs[1], "vfio", uuid: uuid(1))
            try await waitUntil("the watchdog starved") {
                daemon.logs.all.contains { $0.message == "Watchdog not fed: requests wait and none started or ended" }
            }
            let starved = daemon.notifier.watchdogCount
            hanging.release()
            try await daemon.waitForOutcomes(2)
            try await waitUntil("fed again") { daemon.notifier.watchdogCount > starved }
        }
    }
}
