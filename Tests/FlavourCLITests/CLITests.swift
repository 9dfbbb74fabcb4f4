import FlavourCLI
import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Foundation
import Testing

/// flavourctl run in-process against the test kernel: its writes go to the simulated
/// kernel, never to this machine's /sys.
final class Run: @unchecked Sendable {
    let kernel: TestKernel
    private let lock = NSLock()
    /// Standard output and standard error interleaved as a terminal shows them, and each.
    private var lines: [String] = []
    private var outLines: [String] = []
    private var errLines: [String] = []

    /// What a SIGHUP does to the daemon, when the test has one running (its reload).
    let reload: (@Sendable () -> Void)?

    init(kernel: TestKernel, reload: (@Sendable () -> Void)? = nil) {
        self.kernel = kernel
        self.reload = reload
    }

    private var signals: [Int32] = []

    var output: String { lock.withLock { lines.joined(separator: "\n") } }
    var standardOutput: String { lock.withLock { outLines.joined(separator: "\n") } }
    var standardError: String { lock.withLock { errLines.joined(separator: "\n") } }
    /// The pids `flavourctl` asked to reload (SIGHUP), which a test must not really send itself.
    var reloadSignals: [Int32] { lock.withLock { signals } }

    func callAsFunction(_ arguments: String..., root: Bool = true) -> Int32 { run(arguments, root: root) }

    func run(_ arguments: [String], root: Bool = true) -> Int32 {
        lock.withLock {
            lines.removeAll()
            outLines.removeAll()
            errLines.removeAll()
        }
        let context = CLIContext(
            makeWriter: { _ in self.kernel }, makeLoader: { _, _ in self.kernel }, probe: kernel,
            output: { line in self.lock.withLock { self.lines.append(line); self.outLines.append(line) } },
            errorOutput: { line in self.lock.withLock { self.lines.append(line); self.errLines.append(line) } },
            isRoot: { root },
            // As ProcessSignal does it, without the signal: only while the pid is still that process.
            signalReload: { daemon in
                guard daemon.isRunning() else { return ESRCH }
                self.lock.withLock { self.signals.append(daemon.pid) }
                self.reload?()
                return 0
            })
        // The test kernel's /proc too, so the in-use guard never reads this machine's.
        var paths = ["--sysfs-root", kernel.sysfsRoot, "--modules-dir", kernel.modulesDirectory, "--config-dir", kernel.configDirectory]
        if !arguments.contains("--proc-root") { paths += ["--proc-root", kernel.procRoot] }
        // apply's crash journal in the test kernel's tree, never this machine's /run.
        if arguments.first == "apply", !arguments.contains("--run-dir") { paths += ["--run-dir", kernel.root + "/run"] }
        let withPaths = arguments.first == "--no-paths" ? Array(arguments.dropFirst()) : arguments + paths
        return CLIContext.$current.withValue(context) { Flavourctl.run(arguments: withPaths) }
    }

    /// Runs with `--json`, expects success, and parses the output.
    func json(_ arguments: String...) throws -> Any {
        let status = run(arguments + ["--json"])
        #expect(status == 0, "\(output)")
        return try JSONSerialization.jsonObject(with: Data(output.utf8))
    }
}

func makeKernel(config: String = "") throws -> TestKernel {
    let kernel = try TestKernel(
        modules: [.vfioPCI, .virtioVFIOPCI],
        loaded: [.virtioPCI, .e1000e],
        devices: [.virtioNet("0000:00:03.0", group: 3), .e1000e("0000:00:04.0", group: 4)])
    if !config.isEmpty { try kernel.writeConfig("50-site.conf", config) }
    return kernel
}

let virtioNet = try! PCIAddress(parsing: "0000:00:03.0")
let e1000e = try! PCIAddress(parsing: "0000:00:04.0")

/// Errors go to standard error, reports and help to standard output, so a script can
/// parse `--json` output and still see why a command could not run.
@Suite struct OutputStreamTests {
    @Test(arguments: [
        (["explain", "0000:00:03.0", "--flavour", "nosuch"], "unknown flavour 'nosuch'"),
        (["apply", "0000:00:99.0", "vfio"], "is not a PCI address"),
        (["apply", "0000:00:09.0", "vfio"], "no PCI device 0000:00:09.0"),
        (["explain"], "Missing expected argument"),
        (["frobnicate"], "Error: "),
    ])
    func errorsGoToStandardError(arguments: [String], message: String) throws {
        let run = Run(kernel: try makeKernel())
        #expect(run.run(arguments) != 0)
        #expect(run.standardError.contains(message), "stderr: \(run.standardError)")
        #expect(run.standardOutput.isEmpty, "stdout: \(run.standardOutput)")
    }

    @Test func reportsAndHelpGoToStandardOutput() throws {
        let run = Run(kernel: try makeKernel())
        #expect(run("explain", "0000:00:03.0", "--json") == 0)
        #expect(run.standardOutput.hasPrefix("{"))
        #expect(run.standardError.isEmpty)
        #expect(run.run(["--help"]) == 0)
        #expect(run.standardOutput.contains("USAGE: flavourctl"))
        #expect(run.standardError.isEmpty)
    }
}

@Suite struct ExplainTests {
    @Test func explainsCandidatesInTryOrderAsJSON() throws {
        let run = Run(kernel: try makeKernel(config: "deny vfio vfio_pci:v00008086* vfio_pci\n"))
        let report = try #require(try run.json("explain", "0000:00:03.0") as? [String: Any])
        #expect(report["address"] as? String == "0000:00:03.0")
        #expect(report["modalias"] as? String == "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00")
        #expect(report["flavour"] as? String == "vfio")
        let candidates = try #require(report["candidates"] as? [[String: Any]])
        #expect(candidates.map { $0["module"] as? String } == ["virtio_vfio_pci", "vfio_pci"])
        #expect(candidates[0]["alias"] as? String == "vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*")
        #expect(candidates[0]["wildcards"] as? Int == 5)
        #expect((candidates[0]["source"] as? String)?.hasSuffix("modules.alias:4") == true)
        #expect((report["denied"] as? [Any])?.isEmpty == true)
    }

    @Test func explainShowsDeniedCandidatesAndWhy() throws {
        let run = Run(kernel: try makeKernel(config: "deny vfio vfio_pci:v00001AF4* virtio_vfio_pci\n"))
        #expect(run("explain", "0000:00:03.0") == 0)
        #expect(run.output.contains("virtio_vfio_pci: deny vfio_pci:v00001AF4* at"))
        #expect(run.output.contains("would try first: vfio_pci"))
    }

    /// `explain DEVICE FLAVOUR` reads like `apply DEVICE FLAVOUR`; `--flavour` says the same.
    @Test func explainTakesTheFlavourLikeApply() throws {
        let kernel = try makeKernel(config: "flavour plain - vfio_pci\n")
        let run = Run(kernel: kernel)
        for arguments in [["explain", "0000:00:03.0", "plain"], ["explain", "0000:00:03.0", "--flavour", "plain"],
                          ["explain", "0000:00:03.0", "plain", "--flavour", "plain"]] {
            #expect(run.run(arguments) == 0, "\(arguments): \(run.output)")
            #expect(run.output.contains("flavour:   plain, looked up as"), "\(arguments): \(run.output)")
        }
        #expect(run("explain", "0000:00:03.0") == 0)
        #expect(run.output.contains("flavour:   vfio, looked up as vfio_pci:"))
        #expect(run("explain", "0000:00:03.0", "vfio", "--flavour", "plain") == 64)
        #expect(run.standardError.contains("two flavours given: 'vfio' and --flavour 'plain'"), "\(run.output)")
    }

    @Test func explainWritesNothing() throws {
        let kernel = try makeKernel()
        kernel.clearEvents()
        #expect(Run(kernel: kernel)("explain", "0000:00:03.0") == 0)
        #expect(kernel.events.isEmpty)
    }
}

@Suite struct ApplyTests {
    @Test func appliesAndReportsEachAttempt() throws {
        let kernel = try makeKernel()
        kernel.failProbe(driver: "virtio_vfio_pci", errno: EIO)
        let run = Run(kernel: kernel)
        #expect(run("apply", "0000:00:03.0", "vfio") == 0)
        #expect(run.output.contains("bind (module virtio_vfio_pci, driver virtio_vfio_pci) failed: EIO"))
        #expect(run.output.contains("0000:00:03.0: bound to vfio-pci (module vfio_pci) after 1 failed attempt(s), was virtio-pci"))
        #expect(kernel.driver(of: virtioNet) == "vfio-pci")
    }

    @Test func failureExitsNonZeroAndSaysWhy() throws {
        let kernel = try makeKernel()
        kernel.failProbe(driver: "virtio_vfio_pci", errno: EIO)
        kernel.failProbe(driver: "vfio-pci", errno: EBUSY)
        let run = Run(kernel: kernel)
        #expect(run("apply", "0000:00:03.0", "vfio") == 1)
        #expect(run.output.contains("every candidate failed"))
        #expect(run.output.contains("It is back on virtio-pci"))
        #expect(kernel.driver(of: virtioNet) == "virtio-pci")
    }

    @Test func revertWithNone() throws {
        let kernel = try makeKernel()
        let run = Run(kernel: kernel)
        #expect(run("apply", "0000:00:04.0", "vfio") == 0)
        #expect(kernel.driver(of: e1000e) == "vfio-pci")
        #expect(run("apply", "0000:00:04.0", "none") == 0)
        #expect(run.output.contains("back on its default driver e1000e"))
        #expect(kernel.driver(of: e1000e) == "e1000e")
    }

    @Test func jsonOutcome() throws {
        let run = Run(kernel: try makeKernel())
        let outcome = try #require(try run.json("apply", "0000:00:03.0", "vfio") as? [String: Any])
        #expect(outcome["result"] as? String == "bound")
        #expect(outcome["driver"] as? String == "virtio_vfio_pci")
        #expect(outcome["previous_driver"] as? String == "virtio-pci")
    }

    /// Bad input: one clear line, a non-zero exit, and not one write.
    @Test(arguments: [
        (["apply", "../../../etc/passwd", "vfio"], "is not a PCI address"),
        (["apply", "0000:00:03.0/../../..", "vfio"], "is not a PCI address"),
        (["apply", "0000:00:09.0", "vfio"], "no PCI device 0000:00:09.0"),
        (["apply", "0000:00:03.0", "nosuch"], "unknown flavour 'nosuch'; known: vfio, none"),
        (["explain", "3:00.0"], "is not a PCI address"),
    ])
    func badInputIsOneLineAndNoWrite(arguments: [String], message: String) throws {
        let kernel = try makeKernel()
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        let code = run.run(arguments)
        #expect(code != 0)
        #expect(run.output.split(separator: "\n").count == 1, "\(run.output)")
        #expect(run.output.contains(message), "\(run.output)")
        #expect(kernel.events.isEmpty)
    }

    @Test func brokenConfigIsRefusedBeforeAnyWrite() throws {
        let kernel = try makeKernel(config: "variant vfio vfio_pci:v* \n")
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        #expect(run("apply", "0000:00:03.0", "vfio") == 1)
        #expect(run.output.contains("50-site.conf:1: 'variant' takes 3 arguments"))
        #expect(kernel.events.isEmpty)
    }

    @Test func applyOnTheRealSysfsNeedsRoot() throws {
        let run = Run(kernel: try makeKernel())
        #expect(run("--no-paths", "apply", "0000:00:03.0", "vfio", root: false) == 1)
        #expect(run.output.contains("needs root"))
    }
}

@Suite struct ListTests {
    @Test func listsEveryDeviceAsTheKernelShowsIt() throws {
        let kernel = try makeKernel()
        let run = Run(kernel: kernel)
        #expect(run("apply", "0000:00:04.0", "vfio") == 0)
        let rows = try #require(try run.json("list") as? [[String: Any]])
        #expect(rows.map { $0["address"] as? String } == ["0000:00:03.0", "0000:00:04.0"])
        #expect(rows[0]["vendor"] as? String == "1af4")
        #expect(rows[0]["device"] as? String == "1041")
        #expect(rows[0]["class"] as? String == "0x020000")
        #expect(rows[0]["driver"] as? String == "virtio-pci")
        #expect(rows[0]["driver_override"] is NSNull)
        #expect(rows[0]["iommu_group"] as? Int == 3)
        #expect(rows[0]["vfio_driver"] as? String == "virtio_vfio_pci")
        #expect(rows[1]["driver"] as? String == "vfio-pci")
        #expect(rows[1]["driver_override"] as? String == "vfio-pci")
    }

    /// VFIO mode is the kernel's registration, for vfio-pci and a variant alike; a revert ends it.
    @Test func vfioModeIsWhatTheKernelRegistered() throws {
        let kernel = try makeKernel()
        let run = Run(kernel: kernel)
        #expect(run("apply", "0000:00:03.0", "vfio") == 0)  // virtio_vfio_pci, a variant
        var rows = try #require(try run.json("list") as? [[String: Any]])
        #expect(rows.map { $0["vfio_mode"] as? Bool } == [true, false])
        #expect(rows[0]["vfio_device"] as? String == "vfio0")
        #expect(rows[1]["vfio_device"] is NSNull)
        #expect(run("list") == 0)
        #expect(run.output.split(separator: "\n")[1].contains("  yes (vfio-dev/vfio0)  "), "\(run.output)")
        #expect(run("apply", "0000:00:03.0", "none") == 0)
        rows = try #require(try run.json("list") as? [[String: Any]])
        #expect(rows.map { $0["vfio_mode"] as? Bool } == [false, false])
    }
}
