import FlavourCLI
import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Foundation
import Testing

/// A root port and a two-function card in IOMMU group 7, plus a lone e1000e in group 4.
func makeGroupKernel() throws -> TestKernel {
    let pcieport = TestModule(
        "pcieport", driver: "pcieport", ids: [TestPCIID(vendor: nil, device: nil, classMatch: (0x060400, 0xFFFFFF))],
        builtin: true)
    return try TestKernel(
        modules: [.vfioPCI, .virtioVFIOPCI, pcieport],
        loaded: [.virtioPCI, .e1000e],
        devices: [
            TestDevice("0000:00:1c.0", vendor: 0x8086, device: 0xA110, classCode: 0x060400, iommuGroup: 7),
            .virtioNet("0000:03:00.0", group: 7),
            TestDevice("0000:03:00.1", vendor: 0x8086, device: 0x10D3, classCode: 0x020000, iommuGroup: 7,
                       netInterfaces: ["enp3s0f1"]),
        ])
}

let cardNet = try! PCIAddress(parsing: "0000:03:00.0")
let cardE1000e = try! PCIAddress(parsing: "0000:03:00.1")

extension Run {
    /// Runs with the test kernel's /proc as well.
    func withProc(_ arguments: String...) -> Int32 { run(arguments + ["--proc-root", kernel.procRoot]) }
}

@Suite struct InUseCLITests {
    @Test func applyRefusesTheNICWithTheDefaultRouteAndWritesNothing() throws {
        let kernel = try makeKernel()
        try kernel.setInterface("enp0s3", up: true, route: .default)
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        #expect(run.withProc("apply", "0000:00:03.0", "vfio") == 1)
        #expect(run.output == "0000:00:03.0: nothing done: 0000:00:03.0 is in use by the host: network interface enp0s3 is up and carries the default route; use --force to take it anyway")
        #expect(kernel.events.isEmpty)
    }

    @Test func forceTakesItAnyway() throws {
        let kernel = try makeKernel()
        try kernel.setInterface("enp0s3", up: true, route: .default)
        let run = Run(kernel: kernel)
        #expect(run.withProc("apply", "--force", "0000:00:03.0", "vfio") == 0, "\(run.output)")
        #expect(kernel.driver(of: virtioNet) == "virtio_vfio_pci")
    }

    @Test func aFreeDeviceNeedsNoForce() throws {
        let kernel = try makeKernel()
        try kernel.setInterface("enp0s3", up: true, route: .default)
        let run = Run(kernel: kernel)
        #expect(run.withProc("apply", "0000:00:04.0", "vfio") == 0, "\(run.output)")
        #expect(kernel.driver(of: e1000e) == "vfio-pci")
    }

    @Test func explainSaysWhatUsesTheDevice() throws {
        let kernel = try makeKernel()
        try kernel.setInterface("enp0s3", up: true, route: .subnet("10.0.2.0/24"))
        let run = Run(kernel: kernel)
        #expect(run.withProc("explain", "0000:00:03.0") == 0)
        #expect(run.output.contains("in use by the host: network interface enp0s3 is up and carries route 10.0.2.0/24"))
        #expect(run.withProc("explain", "0000:00:04.0") == 0)
        #expect(run.output.contains("in use by the host: no"))
    }
}

@Suite struct ProtectAndHolderCLITests {
    @Test func applyRefusesAProtectedDeviceEvenWithForce() throws {
        let kernel = try makeKernel(config: "protect enp0s4\n")
        try kernel.setInterface("enp0s4", up: false)
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        #expect(run.withProc("apply", "--force", "0000:00:04.0", "vfio") == 1)
        #expect(run.output == "0000:00:04.0: nothing done: 0000:00:04.0 is protected by protect enp0s4 (\(kernel.configDirectory)/50-site.conf:1): it is never moved, --force or not")
        #expect(kernel.events.isEmpty)
    }

    /// explain and list say what apply and flavourd would: protected, and held open.
    @Test func explainAndListShowProtectionAndHolders() throws {
        let kernel = try makeKernel(config: "protect 0000:00:04.0\n")
        try kernel.addBlockDevice(below: virtioNet, name: "vdb")
        let pid = try kernel.startProcess("qemu", opening: ["/dev/vdb"])
        let run = Run(kernel: kernel)
        #expect(run.withProc("explain", "0000:00:04.0") == 0)
        #expect(run.output.contains("protected: yes, by protect 0000:00:04.0 (\(kernel.configDirectory)/50-site.conf:1); never moved, --force or not"), "\(run.output)")
        #expect(run.withProc("explain", "0000:00:03.0") == 0)
        #expect(run.output.contains("in use by the host: /dev/vdb is held open by qemu (pid \(pid))"), "\(run.output)")
        #expect(run.output.contains("protected: no"))
        let rows = try #require(try run.json("list", "--proc-root", kernel.procRoot) as? [[String: Any]])
        #expect(rows.map { $0["protected"] as? String } == [nil, "protect 0000:00:04.0 (\(kernel.configDirectory)/50-site.conf:1)"])
        #expect(rows[0]["in_use"] as? [String] == ["/dev/vdb is held open by qemu (pid \(pid))"])
        #expect(run.withProc("list") == 0)
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines[1].contains("  vdb open by qemu[\(pid)]  "), "\(lines[1])")
        #expect(lines[2].contains("  protected  "), "\(lines[2])")
    }
}

@Suite struct GroupCLITests {
    @Test func explainShowsTheGroupAndItsBlocker() throws {
        let run = Run(kernel: try makeGroupKernel())
        #expect(run.withProc("explain", "0000:03:00.0") == 0)
        #expect(run.output.contains("iommu group: 7: 0000:00:1c.0 (bridge), 0000:03:00.0, 0000:03:00.1"))
        #expect(run.output.contains("viable if bound: no (blocked by 0000:03:00.1 on e1000e)"))
    }

    /// A bridge blocks when its driver uses the kernel's DMA domain (lpc_ich on an Intel
    /// PCH's ISA bridge); the explain line names it like any other member.
    @Test func explainNamesABridgeThatBlocks() throws {
        let kernel = try TestKernel(
            modules: [.vfioPCI], loaded: [.lpcICH, .e1000e],
            devices: [
                .intelISABridge("0000:00:1f.0", group: 9),
                .e1000e("0000:00:1f.6", group: 9),
            ])
        let run = Run(kernel: kernel)
        #expect(run.withProc("explain", "0000:00:1f.6") == 0)
        #expect(run.output.contains("iommu group: 9: 0000:00:1f.0 (bridge), 0000:00:1f.6"))
        #expect(run.output.contains("viable if bound: no (blocked by 0000:00:1f.0 on lpc_ich)"), "\(run.output)")
    }

    @Test func explainJSONHasTheGroupFields() throws {
        let run = Run(kernel: try makeGroupKernel())
        let report = try #require(try run.json("explain", "0000:03:00.0", "--proc-root", run.kernel.procRoot) as? [String: Any])
        #expect(report["iommu_group"] as? Int == 7)
        #expect(report["group_viable"] as? Bool == false)
        let blockers = try #require(report["group_blockers"] as? [[String: String]])
        #expect(blockers == [["address": "0000:03:00.1", "driver": "e1000e"]])
        #expect((report["in_use"] as? [String])?.isEmpty == true)
    }

    @Test func listShowsWhatTheHostUses() throws {
        let kernel = try makeKernel()
        try kernel.setInterface("enp0s3", up: true, route: .default)
        try kernel.addBlockDevice(below: e1000e, name: "vda")
        try kernel.mount("vda", at: "/")
        try kernel.mount("vda", at: "/tmp")
        let run = Run(kernel: kernel)
        #expect(run.withProc("list", "--json") == 0)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["in_use"] as? [String] } == [
            ["network interface enp0s3 is up and carries the default route"],
            ["block device vda (below it) is mounted at /, /tmp"],
        ])
        #expect(run.withProc("list") == 0)
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines[0].contains("  IN USE  "), "\(lines[0])")
        #expect(lines[1].contains("  enp0s3 (default route)  "), "\(lines[1])")
        #expect(lines[2].contains("  vda on /,/tmp  "), "\(lines[2])")
    }

    @Test func listShowsViabilityPerDevice() throws {
        let kernel = try makeGroupKernel()
        let run = Run(kernel: kernel)
        #expect(run.withProc("apply", "0000:03:00.1", "vfio") == 0)
        let rows = try #require(try run.json("list") as? [[String: Any]])
        #expect(rows.map { $0["address"] as? String } == ["0000:00:1c.0", "0000:03:00.0", "0000:03:00.1"])
        #expect(rows[1]["group_viable"] as? Bool == true)
        #expect(rows[2]["group_viable"] as? Bool == false)
        #expect((rows[2]["group_blockers"] as? [[String: String]]) == [["address": "0000:03:00.0", "driver": "virtio-pci"]])
        #expect(run("list") == 0)
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines[0].hasSuffix("VIABLE IF BOUND"))
        #expect(lines[2].hasSuffix("  yes"))
        #expect(lines[3].hasSuffix("no (blocked by 0000:03:00.0 on virtio-pci)"))
    }

    @Test func applyGroupMovesEveryMemberAndReportsEach() throws {
        let kernel = try makeGroupKernel()
        let run = Run(kernel: kernel)
        #expect(run.withProc("apply", "--group", "0000:03:00.0", "vfio") == 0, "\(run.output)")
        #expect(run.output.contains("0000:03:00.0: bound to virtio_vfio_pci"))
        #expect(run.output.contains("0000:03:00.1: bound to vfio-pci"))
        #expect(kernel.driver(of: cardNet) == "virtio_vfio_pci")
        #expect(kernel.driver(of: cardE1000e) == "vfio-pci")
        #expect(kernel.driver(of: try PCIAddress(parsing: "0000:00:1c.0")) == "pcieport")
    }

    @Test func applyGroupJSONIsAListOfOutcomes() throws {
        let run = Run(kernel: try makeGroupKernel())
        let outcomes = try #require(
            try run.json("apply", "--group", "0000:03:00.1", "vfio", "--proc-root", run.kernel.procRoot) as? [[String: Any]])
        #expect(outcomes.map { $0["address"] as? String } == ["0000:03:00.0", "0000:03:00.1"])
        #expect(outcomes.map { $0["result"] as? String } == ["bound", "bound"])
    }

    @Test func applyGroupWithOneMemberInUseRefusesAllAndWritesNothing() throws {
        let kernel = try makeGroupKernel()
        try kernel.setInterface("enp3s0f1", up: true, ipv6: ["2001:db8::7"])
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        #expect(run.withProc("apply", "--group", "0000:03:00.0", "vfio") == 1)
        #expect(run.output.contains("0000:03:00.0: nothing done: IOMMU group 7 cannot be taken as a whole: 0000:03:00.1 is in use by the host: network interface enp3s0f1 is up with address 2001:db8::7"))
        #expect(run.output.contains("use --force to take it anyway"))
        #expect(kernel.events.isEmpty)
        #expect(kernel.driver(of: cardNet) == "virtio-pci")
    }

    @Test func applyGroupWithForceTakesTheMemberInUse() throws {
        let kernel = try makeGroupKernel()
        try kernel.setInterface("enp3s0f1", up: true, route: .default)
        let run = Run(kernel: kernel)
        #expect(run.withProc("apply", "--group", "--force", "0000:03:00.0", "vfio") == 0, "\(run.output)")
        #expect(kernel.driver(of: cardE1000e) == "vfio-pci")
    }
}
