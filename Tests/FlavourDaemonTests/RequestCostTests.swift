import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Testing

/// What one request costs in operations on sysfs and procfs, as the test kernel counts them
/// (`SysfsAccess`): each is a syscall and a kernfs walk, far dearer on a real kernel under TCG.
@Suite struct RequestCostTests {
    /// A VF without a driver, netdev or block device: the in-use guard has nothing to look
    /// at, so the request lists no directory and reads nothing under /proc (no process scan,
    /// no routes, mounts or swaps), and writes only driver_override and bind.
    @Test func aRequestForAnUnboundVFListsNothingAndReadsNoHostTable() async throws {
        let kernel = try makeKernel(totalVFs: 8)
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("8", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let daemon = DaemonHarness(kernel: kernel)
        let vfs = (0..<2).map { try! PCIAddress(parsing: "0000:02:00.\($0)") }
        try await daemon.run {
            // The first request loads vfio_pci and learns its driver's name: not counted.
            try daemon.request(vfs[0], "vfio", uuid: uuid(1))
            try await daemon.waitForOutcomes(1)
            let before = kernel.accesses
            try daemon.request(vfs[1], "vfio", uuid: uuid(2))
            try await daemon.waitForOutcomes(2)
            let used = kernel.accesses.merging(before) { $0 - $1 }
            #expect(kernel.driver(of: vfs[1]) == "vfio-pci")
            #expect(used[.listing] == 0)
            #expect(used[.procRead] == 0)
            #expect(used[.procLook] == 0)
            #expect(used[.write] == 3)  // the request's own uevent, then driver_override and bind
            #expect((used[.read] ?? 0) > 0 && (used[.readlink] ?? 0) > 0)  // the device was read, and counted
        }
    }
}
