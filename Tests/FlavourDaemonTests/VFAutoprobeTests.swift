import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Testing

/// flavourd keeps a PF's VFs from its default driver only when the standing requests
/// take every VF, and gives them back when they no longer do.
@Suite(.serialized) struct VFAutoprobeTests {
    static let autoprobe = "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe"

    /// Eight VFs, a request for the first four: the other four must still get nvme.
    @Test func aRequestForSomeVFsLeavesAutoprobeOn() async throws {
        let kernel = try makeKernel(config: "request vfio 0000:02:00.[0-3]\n", totalVFs: 8)
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            #expect(try kernel.sysfs.read(Self.autoprobe) == "1")
            try kernel.sysfs.write("8", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
            try await daemon.waitForOutcomes(4)
        }
        for function in 0..<8 {
            let vf = try PCIAddress(parsing: "0000:02:00.\(function)")
            #expect(kernel.driver(of: vf) == (function < 4 ? "vfio-pci" : "nvme"), "\(vf)")
        }
        #expect(daemon.logs.all.contains { $0.message == "VF autoprobe left on: the standing requests cover only some VFs" })
    }

    /// The request that took every VF goes away on reload: autoprobe is on again, and new
    /// VFs get their default driver.
    @Test func autoprobeComesBackWhenTheRequestGoes() async throws {
        let kernel = try makeKernel(config: "request vfio 0000:02:00.*\n", totalVFs: 8)
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            #expect(try kernel.sysfs.read(Self.autoprobe) == "0")
            try kernel.writeConfig("50-test.conf", "")
            await daemon.service.reload()
            #expect(try kernel.sysfs.read(Self.autoprobe) == "1")
            try kernel.sysfs.write("2", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        }
        #expect(kernel.driver(of: try PCIAddress(parsing: "0000:02:00.1")) == "nvme")
        #expect(FileSystem.list(daemon.runDirectory + "/autoprobe-off").isEmpty)
    }

    /// An admin who set 0 by hand keeps it: flavourd turns on only what it turned off.
    @Test func anAdminsZeroIsLeftAlone() async throws {
        let kernel = try makeKernel(totalVFs: 8)
        try kernel.sysfs.write("0", to: Self.autoprobe)
        try kernel.writeConfig("50-test.conf", "request vfio 0000:02:00.[0-3]\n")
        let daemon = DaemonHarness(kernel: kernel)
        try await daemon.run {
            try kernel.writeConfig("50-test.conf", "")
            await daemon.service.reload()
        }
        #expect(try kernel.sysfs.read(Self.autoprobe) == "0")
    }
}
