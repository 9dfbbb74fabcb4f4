import FlavourCLI
import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The CLI rows of docs/bad-input.md: every bad argument is refused with one line, a
/// non-zero exit and not one write to the (test) kernel. Always run with the test
/// kernel's roots (Run adds them); `--no-paths` is used only where the refusal comes
/// before /sys is read.
@Suite struct BadInputCLITests {
    /// Runs `arguments`, expects a refusal of exactly one line containing `message`, and
    /// that the kernel saw nothing.
    static func expectRefused(
        _ kernel: TestKernel, _ arguments: [String], _ message: String, lines: Int = 1, code: Int32 = 1, root: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Run {
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        let status = run.run(arguments, root: root)
        #expect(status == code, "\(arguments): \(run.output)", sourceLocation: sourceLocation)
        #expect(run.output.split(separator: "\n", omittingEmptySubsequences: false).count == lines, "\(run.output)", sourceLocation: sourceLocation)
        #expect(run.output.contains(message), "\(run.output)", sourceLocation: sourceLocation)
        #expect(!run.output.unicodeScalars.contains { $0.value == 0 }, "a NUL reached the terminal", sourceLocation: sourceLocation)
        #expect(kernel.events.isEmpty, "\(kernel.events)", sourceLocation: sourceLocation)
        return run
    }

    /// A status.json that names this (live) process: `set` then goes as far as sending.
    static func fakeLiveDaemon(_ kernel: TestKernel, pid: Int32 = getpid()) throws -> String {
        let directory = kernel.root + "/fake-run"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let json = #"{"pid": \#(pid), "state": "ready", "source": "test", "standing_requests": [], "in_flight": [], "queued": [], "last_outcomes": []}"#
        try json.write(toFile: directory + "/status.json", atomically: true, encoding: .utf8)
        return directory
    }

    static let badAddresses = [
        "0000:00:03.0\u{0}", " 0000:00:03.0", "0000:00:03.0 ", "0000:00:03 .0", "123456789:00:03.0", "../0000:00:03.0",
        "0000:00:03.0/../../..", "00:03.0", "0000:00:03.0\n",
    ]

    @Test(arguments: badAddresses)
    func badAddressIsRefusedByEveryCommand(address: String) throws {
        let kernel = try makeKernel()
        for command in [["apply", address, "vfio"], ["explain", address], ["set", address, "vfio"], ["unset", address],
                        ["apply", address, "vfio", "--json"], ["explain", address, "--json"]] {
            _ = Self.expectRefused(kernel, command, "is not a PCI address: expected DDDD:BB:DD.F")
        }
    }

    @Test func upperCaseAddressIsAcceptedAndPrintedLowerCase() throws {
        let kernel = try TestKernel(modules: [.vfioPCI], loaded: [.e1000e], devices: [.e1000e("0000:3b:0a.0", group: 5)])
        let run = Run(kernel: kernel)
        let report = try #require(try run.json("explain", "0000:3B:0A.0") as? [String: Any])
        #expect(report["address"] as? String == "0000:3b:0a.0")
        #expect(run("apply", "0000:3B:0A.0", "vfio") == 0, "\(run.output)")
        #expect(run.output.contains("\n0000:3b:0a.0: bound to vfio-pci"), "\(run.output)")
        #expect(kernel.driver(of: try PCIAddress(parsing: "0000:3b:0a.0")) == "vfio-pci")
    }

    @Test(arguments: [["explain", "0000:00:09.0"], ["set", "0000:00:09.0", "vfio"], ["unset", "0000:00:09.0"],
                      ["apply", "0000:00:09.0", "vfio", "--json"]])
    func unknownDeviceIsRefused(arguments: [String]) throws {
        _ = Self.expectRefused(
            try makeKernel(), arguments,
            "flavourctl: no PCI device 0000:00:09.0 (nothing at /sys/bus/pci/devices/0000:00:09.0); check the address with lspci -D")
    }

    @Test(arguments: [
        (["apply", "0000:00:03.0", ""], "flavourctl: unknown flavour ''; known: vfio, none"),
        (["apply", "0000:00:03.0", "VFIO"], "flavourctl: unknown flavour 'VFIO'; known: vfio, none"),
        (["apply", "0000:00:03.0", "vfio;reboot", "--json"], "flavourctl: unknown flavour 'vfio;reboot'; known: vfio, none"),
        (["set", "0000:00:03.0", "nosuch"], "flavourctl: unknown flavour 'nosuch'; known: vfio, none"),
        (["set", "0000:00:03.0", ""], "flavourctl: unknown flavour ''; known: vfio, none"),
        (["explain", "0000:00:03.0", "--flavour", "nosuch"], "flavourctl: unknown flavour 'nosuch'; known: vfio"),
        (["explain", "0000:00:03.0", "--flavour", "none"], "flavourctl: unknown flavour 'none'; known: vfio"),
    ])
    func unknownFlavourIsRefused(arguments: [String], message: String) throws {
        let kernel = try makeKernel()
        _ = Self.expectRefused(kernel, arguments, message)
        #expect(kernel.driver(of: virtioNet) == "virtio-pci")
    }

    /// A broken config: the header line and one line per bad config line, exit 1, nothing written.
    @Test(arguments: [["apply", "0000:00:03.0", "vfio"], ["apply", "0000:00:03.0", "none"], ["explain", "0000:00:03.0"],
                      ["list"], ["list", "--json"], ["set", "0000:00:03.0", "vfio"], ["unset", "0000:00:03.0"]])
    func brokenConfigIsRefusedByEveryCommandThatReadsIt(arguments: [String]) throws {
        let kernel = try makeKernel(config: "flavour lab - vfio_pci\nrequest lab 0000:00:03.0 forse\n")
        let run = Self.expectRefused(kernel, arguments, "flavourctl: the configuration in \(kernel.configDirectory) is broken; fix these lines:", lines: 2)
        #expect(run.output.hasSuffix("\n\(kernel.configDirectory)/50-site.conf:2: unknown request option 'forse' (expected force or group)"))
    }

    @Test func statusDoesNotReadTheConfig() throws {
        let run = Run(kernel: try makeKernel(config: "frobnicate\n"))
        #expect(run("status", "--run-dir", "/nonexistent") == 0, "\(run.output)")
    }

    @Test func nonUTF8ByteInAConfigFileIsABadLineNamingFileAndLine() throws {
        let kernel = try makeKernel()
        let bytes = Array("# caf".utf8) + [0xE9] + Array("\nvariant vfio vfio_pci:v* mod".utf8) + [0xFF] + Array("\n".utf8)
        #expect(FileManager.default.createFile(atPath: kernel.configDirectory + "/50-site.conf", contents: Data(bytes)))
        let run = Self.expectRefused(kernel, ["explain", "0000:00:03.0"], "is broken", lines: 2)
        #expect(run.output.hasSuffix("50-site.conf:2: 'mod\u{FFFD}' is not a module name: use letters, digits, '_' and '-'"), "\(run.output)")
    }

    @Test func nonUTF8ByteInACommentIsHarmless() throws {
        let kernel = try makeKernel()
        let bytes = Array("# caf".utf8) + [0xE9] + Array("\r\nflavour lab - vfio_pci\r\n".utf8)
        #expect(FileManager.default.createFile(atPath: kernel.configDirectory + "/50-site.conf", contents: Data(bytes)))
        let run = Run(kernel: kernel)
        #expect(run("explain", "0000:00:03.0", "--flavour", "lab") == 0, "\(run.output)")
    }

    /// An editor's lock file is a dangling link named `.#NAME.conf`, a hidden `.x.conf` may
    /// hold anything: neither is read.
    @Test func hiddenConfFilesAreNotRead() throws {
        let kernel = try makeKernel(config: "flavour lab - vfio_pci\n")
        try FileManager.default.createSymbolicLink(atPath: kernel.configDirectory + "/.#50-site.conf", withDestinationPath: "root@host.1234:1700000000")
        try kernel.writeConfig(".old.conf", "frobnicate\n")
        try kernel.writeConfig("50-site.conf~", "frobnicate\n")
        let run = Run(kernel: kernel)
        #expect(run("explain", "0000:00:03.0", "--flavour", "lab") == 0, "\(run.output)")
    }

    @Test func aConfFileThatCannotBeReadIsABrokenConfig() throws {
        let kernel = try makeKernel()
        try FileManager.default.createSymbolicLink(atPath: kernel.configDirectory + "/60-gone.conf", withDestinationPath: "/nonexistent/x.conf")
        let run = Self.expectRefused(kernel, ["explain", "0000:00:03.0"], "is broken", lines: 2)
        #expect(run.output.contains("\(kernel.configDirectory)/60-gone.conf:0: "), "\(run.output)")
    }

    /// Refused before /sys is read at all, so the test never looks at this machine's devices.
    @Test(arguments: [
        (["--no-paths", "apply", "0000:00:03.0", "vfio"], "flavourctl: flavourctl apply writes to /sys and loads kernel modules: it needs root (run it with sudo)"),
        (["--no-paths", "apply", "0000:00:03.0", "vfio", "--json"], "it needs root"),
        (["--no-paths", "set", "0000:00:03.0", "vfio"], "flavourctl: flavourctl set writes to /sys: it needs root (run it with sudo)"),
        (["--no-paths", "unset", "0000:00:03.0"], "flavourctl: flavourctl set writes to /sys: it needs root (run it with sudo)"),
        // The same /sys spelled differently is still /sys.
        (["--no-paths", "apply", "0000:00:03.0", "vfio", "--sysfs-root", "/sys/"], "it needs root"),
        (["--no-paths", "apply", "0000:00:03.0", "vfio", "--sysfs-root", "//sys"], "it needs root"),
        (["--no-paths", "set", "0000:00:03.0", "vfio", "--sysfs-root", "/sys/."], "it needs root"),
    ])
    func withoutRootOnTheRealSysfs(arguments: [String], message: String) throws {
        _ = Self.expectRefused(try makeKernel(), arguments, message, root: false)
    }

    @Test func setWithAStaleOrUnreadableStatusFileSendsNothing() throws {
        let kernel = try makeKernel()
        let stale = try Self.fakeLiveDaemon(kernel, pid: Int32.max - 1)
        _ = Self.expectRefused(kernel, ["set", "0000:00:03.0", "vfio", "--run-dir", stale], "flavourd is not running")
        try "{ not json".write(toFile: stale + "/status.json", atomically: true, encoding: .utf8)
        _ = Self.expectRefused(kernel, ["set", "0000:00:03.0", "vfio", "--run-dir", stale], "flavourd is not running")
    }

    @Test(arguments: ["-1", "nan", "inf", "1e300"])
    func setWithATimeoutThatIsNotADurationSendsNothing(timeout: String) throws {
        let kernel = try makeKernel()
        let runDirectory = try Self.fakeLiveDaemon(kernel)
        _ = Self.expectRefused(
            kernel, ["set", "0000:00:03.0", "vfio", "--timeout=\(timeout)", "--run-dir", runDirectory],
            "flavourctl: --timeout must be a number of seconds from 0 to 86400")
    }

    /// Without the driver_flavour module a flavour with `_` cannot be sent; --persist used to
    /// write the config and signal the daemon first.
    @Test func setOfAFlavourNoUeventCanCarryWritesNothingNotEvenThePersistedFile() throws {
        let kernel = try makeKernel(config: "flavour lab_x - vfio_pci\n")
        let runDirectory = try Self.fakeLiveDaemon(kernel)
        let run = Self.expectRefused(
            kernel, ["set", "--persist", "0000:00:03.0", "lab_x", "--run-dir", runDirectory],
            "flavourctl: flavour 'lab_x' cannot travel in a synthetic uevent (letters and digits only)")
        #expect(!FileSystem.exists(kernel.configDirectory + "/" + DefaultPaths.persistedRequestsFile))
        #expect(run.reloadSignals.isEmpty)
    }

    @Test func persistingNoneIsRefusedInOneLine() throws {
        let kernel = try makeKernel()
        let runDirectory = try Self.fakeLiveDaemon(kernel)
        let run = Self.expectRefused(
            kernel, ["set", "--persist", "0000:00:03.0", "none", "--run-dir", runDirectory],
            "flavourctl: 'none' cannot be persisted: use 'flavourctl unset 0000:00:03.0'")
        #expect(!FileSystem.exists(kernel.configDirectory + "/" + DefaultPaths.persistedRequestsFile))
        #expect(run.reloadSignals.isEmpty)
    }

    /// Usage errors come from the argument parser: exit 64 (EX_USAGE), nothing written.
    @Test(arguments: [
        (["apply", "0000:00:03.0"], "Missing expected argument '<flavour>'"),
        (["explain"], "Missing expected argument '<device>'"),
        (["apply", "0000:00:03.0", "vfio", "--forse"], "Unknown option '--forse'"),
        (["--no-paths", "frobnicate"], "Unexpected argument 'frobnicate'"),
        (["set", "0000:00:03.0", "vfio", "--timeout", "soon"], "The value 'soon' is invalid for '--timeout <timeout>'"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let kernel = try makeKernel()
        kernel.clearEvents()
        let run = Run(kernel: kernel)
        #expect(run.run(arguments) == 64, "\(run.output)")
        #expect(run.output.contains(message), "\(run.output)")
        #expect(kernel.events.isEmpty)
    }

    /// With --json a refusal is still the one plain line (not JSON) and exit 1; a script
    /// tells them apart by the exit code.
    @Test(arguments: [["apply", "x", "vfio", "--json"], ["explain", "x", "--json"], ["set", "x", "vfio", "--json"],
                      ["unset", "x", "--json"]])
    func jsonRefusalIsOnePlainLine(arguments: [String]) throws {
        let run = Self.expectRefused(try makeKernel(), arguments, "flavourctl: 'x' is not a PCI address")
        #expect((try? JSONSerialization.jsonObject(with: Data(run.output.utf8))) == nil)
    }

    /// A failed request with --json is a JSON outcome and exit 1.
    @Test func jsonFailedOutcomeIsJSONAndExitsOne() throws {
        let kernel = try makeKernel()
        kernel.failProbe(driver: "virtio_vfio_pci", errno: EIO)
        kernel.failProbe(driver: "vfio-pci", errno: EBUSY)
        let run = Run(kernel: kernel)
        #expect(run("apply", "0000:00:03.0", "vfio", "--json") == 1)
        let outcome = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        #expect(outcome["result"] as? String == "failed-restored" || (outcome["result"] as? String)?.hasPrefix("failed") == true, "\(outcome)")
        #expect(kernel.driver(of: virtioNet) == "virtio-pci")
    }
}
