import FlavourDaemon
import Logging
import Testing

@Suite struct DaemonCommandLineTests {
    @Test func defaultsAreTheSystemPaths() {
        guard case .run(let options) = DaemonCommandLine.parse([]) else { Issue.record("not run"); return }
        #expect(options.sysfsRoot == "/sys")
        #expect(options.configDirectory == "/etc/driver-flavour.d")
        #expect(options.runDirectory == "/run/driver-flavour")
        #expect(options.procRoot == "/proc")
        #expect(options.maxInFlight == 4)
        #expect(options.source == "auto")
        #expect(options.logLevel == .info)
        #expect(options.stuckAfterSeconds == 30)
        #expect(options.receiveBufferBytes == 8 << 20)
        #expect(DaemonSettings(options).stuckAfter == .seconds(30))
    }

    @Test func stuckAfterAndReceiveBuffer() {
        guard case .run(let options) = DaemonCommandLine.parse(["--stuck-after", "2.5", "--receive-buffer=65536"]) else {
            Issue.record("not run")
            return
        }
        #expect(options.receiveBufferBytes == 65536)
        #expect(DaemonSettings(options).stuckAfter == .milliseconds(2500))
        guard case .run(let never) = DaemonCommandLine.parse(["--stuck-after=0"]) else { Issue.record("not run"); return }
        #expect(DaemonSettings(never).stuckAfter == nil)
    }

    @Test func everyOptionInBothSpellings() {
        let action = DaemonCommandLine.parse([
            "--sysfs-root", "/tmp/s", "--modules-dir=/tmp/m", "--config-dir", "/tmp/c", "--run-dir=/tmp/r",
            "--proc-root", "/tmp/p", "--max-in-flight", "8", "--source=kernel", "--log-level", "debug",
        ])
        var expected = DaemonCommandLine()
        expected.sysfsRoot = "/tmp/s"
        expected.modulesDirectory = "/tmp/m"
        expected.configDirectory = "/tmp/c"
        expected.runDirectory = "/tmp/r"
        expected.procRoot = "/tmp/p"
        expected.maxInFlight = 8
        expected.source = "kernel"
        expected.logLevel = .debug
        #expect(action == .run(expected))
    }

    @Test(arguments: [
        (["--frob"], "unknown option '--frob'"),
        (["--sysfs-root"], "--sysfs-root needs a value"),
        (["--max-in-flight", "0"], "--max-in-flight must be a whole number, at least 1"),
        (["--max-in-flight", "many"], "--max-in-flight must be a whole number, at least 1"),
        (["--source", "netlink"], "--source must be udev, kernel or auto"),
        (["--log-level=loud"], "unknown --log-level 'loud'"),
        (["--stuck-after", "-1"], "--stuck-after must be a number of seconds from 0 to 86400"),
        (["--stuck-after", "soon"], "--stuck-after must be a number of seconds from 0 to 86400"),
        (["--receive-buffer", "100"], "--receive-buffer must be a number of bytes from 4096 to 2147483647"),
    ])
    func badArgumentsSayWhat(arguments: [String], message: String) {
        #expect(DaemonCommandLine.parse(arguments) == .error(message))
    }

    @Test func help() {
        #expect(DaemonCommandLine.parse(["--sysfs-root", "/x", "-h"]) == .help)
        #expect(DaemonCommandLine.usage.contains("--proc-root"))
    }
}
