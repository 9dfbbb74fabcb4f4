import FlavourCore
import FlavourDaemon
import FlavourEngine
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
        #expect(options.kernelAdds)
        #expect(DaemonSettings(options).stuckAfter == .seconds(30))
    }

    @Test func kernelAddsTurnedOff() {
        guard case .run(let off) = DaemonCommandLine.parse(["--kernel-adds", "no"]),
              case .run(let on) = DaemonCommandLine.parse(["--kernel-adds=yes"])
        else { Issue.record("not run"); return }
        #expect(!off.kernelAdds)
        #expect(on.kernelAdds)
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
        (["--kernel-adds", "off"], "--kernel-adds must be yes or no"),
        (["--log-level=loud"], "unknown --log-level 'loud'"),
        (["--stuck-after", "-1"], "--stuck-after must be a number of seconds from 0 to 86400"),
        (["--stuck-after", "soon"], "--stuck-after must be a number of seconds from 0 to 86400"),
        (["--receive-buffer", "100"], "--receive-buffer must be a number of bytes from 4096 to 2147483647"),
        (["--metrics-dir", "textfile"], "--metrics-dir must be an absolute path without '.' or '..', or '-' for none"),
        (["--node-labels-dir=/etc/../x"], "--node-labels-dir must be an absolute path without '.' or '..', or '-' for none"),
    ])
    func badArgumentsSayWhat(arguments: [String], message: String) {
        #expect(DaemonCommandLine.parse(arguments) == .error(message))
    }

    /// Not given: the configuration's line, else the default; given (a path, or `-` for
    /// none): that, whatever the configuration says.
    @Test func fleetDirectories() throws {
        guard case .run(let plain) = DaemonCommandLine.parse([]),
              case .run(let given) = DaemonCommandLine.parse(["--metrics-dir", "/srv/textfile", "--node-labels-dir=-"])
        else { Issue.record("not run"); return }
        let defaults = DaemonSettings(plain)
        #expect(defaults.metricsDirectory == .standard(.path("/var/lib/prometheus/node-exporter")))
        #expect(defaults.nodeLabelsDirectory == .standard(.path("/etc/kubernetes/node-feature-discovery/features.d")))
        let settings = DaemonSettings(given)
        #expect(settings.metricsDirectory == .fixed(.path("/srv/textfile")))
        #expect(settings.nodeLabelsDirectory == .fixed(PublishDirectory.none))
        let config = try FlavourConfig.parse(files: [("a.conf", "metrics-dir /m\nnode-labels-dir /l")])
        #expect(defaults.metricsDirectory.resolved(config.metricsDirectory) == .path("/m"))
        #expect(settings.metricsDirectory.resolved(config.metricsDirectory) == .path("/srv/textfile"))
        #expect(settings.nodeLabelsDirectory.resolved(config.nodeLabelsDirectory) == PublishDirectory.none)
        // Tests and benchmarks that make their own settings publish nothing unless they ask.
        #expect(DaemonSettings().metricsDirectory == .fixed(PublishDirectory.none))
    }

    @Test func help() {
        #expect(DaemonCommandLine.parse(["--sysfs-root", "/x", "-h"]) == .help)
        #expect(DaemonCommandLine.usage.contains("--proc-root"))
    }
}
