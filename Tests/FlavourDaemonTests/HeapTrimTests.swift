import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Synchronization
import Testing

/// glibc keeps what a burst of requests freed resident: flavourd trims the heap once the
/// scheduler falls idle after a burst (`HeapTrimRule`), not per request, not on a timer.
@Suite struct HeapTrimTests {
    @Test func theHeapIsTrimmedOnceWhenABurstOfRequestsHasEnded() async throws {
        let kernel = try makeKernel(totalVFs: 64)
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("64", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let trims = Atomic<Int>(0)
        let daemon = DaemonHarness(kernel: kernel, releaseFreeMemory: { trims.add(1, ordering: .relaxed) })
        let vfs = (0..<64).map { try! PCIAddress(parsing: "0000:02:0\($0 / 8).\($0 % 8)") }
        try await daemon.run {
            #expect(trims.load(ordering: .relaxed) == 1)  // after start-up
            // A few requests: below the burst, no trim however idle the daemon gets.
            for (index, vf) in vfs.prefix(10).enumerated() { try daemon.request(vf, "vfio", uuid: uuid(index)) }
            try await daemon.waitForOutcomes(10)
            // The burst completes: one trim once the last has ended.
            for (index, vf) in vfs.dropFirst(10).enumerated() { try daemon.request(vf, "vfio", uuid: uuid(10 + index)) }
            try await daemon.waitForOutcomes(64)
            try await waitUntil("a trim after the burst (\(trims.load(ordering: .relaxed)) so far)") {
                trims.load(ordering: .relaxed) >= 2
            }
            #expect(trims.load(ordering: .relaxed) == 2)
            #expect(vfs.allSatisfy { kernel.driver(of: $0) == "vfio-pci" })
        }
    }
}
