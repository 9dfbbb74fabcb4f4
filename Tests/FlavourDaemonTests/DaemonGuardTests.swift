import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Standing requests carry `force` and `group` through the daemon to the executor.
@Suite(.serialized) struct DaemonGuardTests {
    @Test func coldplugRefusesADeviceTheHostUses() async throws {
        let kernel = try makeKernel(config: "request vfio 0000:00:03.0\n")
        try kernel.setInterface("enp0s3", up: true, route: .default)
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run { try await daemon.waitForOutcomes(1) }
        #expect(kernel.driver(of: virtioNet) == "virtio-pci")
        let outcome = try #require(daemon.logs.outcomes.first)
        #expect(outcome.metadata["reason"]?.contains("network interface enp0s3 is up and carries the default route") == true)
        #expect(!daemon.logs.all.contains { $0.message == "In-use guard overridden" })
    }

    @Test func forceOnTheRequestLineTakesItAndIsLogged() async throws {
        let kernel = try makeKernel(config: "request vfio 0000:00:03.0 force\n")
        try kernel.setInterface("enp0s3", up: true, route: .default)
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run { try await daemon.waitForOutcomes(1) }
        #expect(kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        let warning = try #require(daemon.logs.all.first { $0.message == "In-use guard overridden" })
        #expect(warning.level == .warning)
        #expect(warning.metadata["pci.slot_name"] == "0000:00:03.0")
    }

    /// A management NIC named by its MAC: a broad standing request with `force` covers it at
    /// start, before its network has an address; `protect` wins, and nothing is overridden.
    @Test func protectBeatsAStandingRequestWithForce() async throws {
        let kernel = try makeKernel(config: "request vfio pci:v*d*sv*sd*bc02sc00i* force\nprotect 52:54:00:aa:bb:04\n")
        try kernel.setInterface("enp0s4", up: true, mac: "52:54:00:aa:bb:04")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run { try await daemon.waitForOutcomes(2) }
        #expect(kernel.driver(of: e1000e) == "e1000e")
        #expect(kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        let refused = try #require(daemon.logs.outcomes.first { $0.metadata["pci.slot_name"] == "0000:00:04.0" })
        #expect(refused.metadata["reason"] == "0000:00:04.0 is protected by protect 52:54:00:aa:bb:04 (\(kernel.configDirectory)/50-test.conf:2): it is never moved, --force or not")
        #expect(!daemon.logs.all.contains { $0.message == "In-use guard overridden" && $0.metadata["pci.slot_name"] == "0000:00:04.0" })
    }

    /// A revert of a device a VFIO user holds, asked of the daemon: rejected, naming the
    /// holder, the device left on its VFIO driver.
    @Test func aRevertOfADeviceAVFIOUserHoldsIsRejected() async throws {
        let kernel = try makeKernel(config: "")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try daemon.request(e1000e, "vfio", uuid: uuid(1))
            try await daemon.waitForOutcomes(1)
            #expect(kernel.driver(of: e1000e) == "vfio-pci")
            let pid = try kernel.startProcess("qemu-system-x86", opening: ["/dev/vfio/4"])
            try daemon.request(e1000e, "none", uuid: uuid(2))
            try await daemon.waitForOutcomes(2)
            let outcome = try #require(daemon.logs.outcomes.last)
            #expect(outcome.metadata["reason"]?.contains("/dev/vfio/4 (the VFIO node of its IOMMU group) is held open by qemu-system-x86 (pid \(pid))") == true)
        }
        #expect(kernel.driver(of: e1000e) == "vfio-pci")
    }

    @Test func groupOnTheRequestLineTakesTheGroupAlong() async throws {
        let kernel = try TestKernel(
            modules: [.vfioPCI, .virtioVFIOPCI], loaded: [.virtioPCI, .e1000e],
            devices: [.virtioNet("0000:03:00.0", group: 7), .e1000e("0000:03:00.1", group: 7)])
        try kernel.writeConfig("50-test.conf", "request vfio 0000:03:00.0 group\n")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run { try await daemon.waitForOutcomes(2) }
        #expect(kernel.driver(of: try PCIAddress(parsing: "0000:03:00.0")) == "virtio_vfio_pci")
        #expect(kernel.driver(of: try PCIAddress(parsing: "0000:03:00.1")) == "vfio-pci")
        // One outcome per device that changed: the requested one, and the member it took along.
        let outcomes = daemon.logs.outcomes.map {
            [$0.message, $0.metadata["pci.slot_name"], $0.metadata["request.origin"], $0.metadata["request.group_of"] ?? "-",
             $0.metadata["driver"], $0.metadata["driver.previous"]].map { "\($0 ?? "nil")" }.joined(separator: " ")
        }.sorted()
        #expect(outcomes == [
            "Device bound to flavour driver 0000:03:00.0 coldplug - virtio_vfio_pci virtio-pci",
            "Device bound to flavour driver 0000:03:00.1 group 0000:03:00.0 vfio-pci e1000e",
        ])
    }

    /// While a group request moves the group, a member's own request waits: it runs after,
    /// on the member as the group left it, and the newest request for the member wins.
    @Test func aMembersOwnRequestWaitsForItsGroup() async throws {
        let kernel = try TestKernel(
            modules: [.vfioPCI, .virtioVFIOPCI], loaded: [.virtioPCI, .e1000e],
            devices: [.e1000e("0000:03:00.1", group: 7)])
        try kernel.writeConfig("50-test.conf", "request vfio 0000:03:00.0 group\n")
        final class Gate: Sendable { let held = Atomic<Bool>(true) }
        let gate = Gate()
        kernel.beforeWrite { path in
            guard path.hasSuffix("drivers/virtio_vfio_pci/bind") else { return }
            while gate.held.load(ordering: .acquiring) { usleep(1_000) }
        }
        let member = try PCIAddress(parsing: "0000:03:00.1")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            // Hotplug under the standing request: the group's bind starts and is held.
            try kernel.addDevice(.virtioNet("0000:03:00.0", group: 7))
            try await waitUntil("the group's bind under way") { kernel.override(of: try! PCIAddress(parsing: "0000:03:00.0")) != nil }
            try daemon.request(member, "none", uuid: uuid(20))
            try await Task.sleep(for: .milliseconds(100))
            #expect(daemon.logs.outcomes.isEmpty, "the member's request ran while its group moved")
            gate.held.store(false, ordering: .releasing)
            try await daemon.waitForOutcomes(3)
        }
        let outcomes = daemon.logs.outcomes.map { "\($0.metadata["pci.slot_name"] ?? "") \($0.metadata["request.origin"] ?? "")" }
        #expect(outcomes == ["0000:03:00.1 group", "0000:03:00.0 hotplug", "0000:03:00.1 synthetic"])
        #expect(kernel.driver(of: member) == "e1000e")
        #expect(kernel.driver(of: try PCIAddress(parsing: "0000:03:00.0")) == "virtio_vfio_pci")
    }
}
