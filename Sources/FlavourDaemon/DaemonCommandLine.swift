import FlavourCore
import FlavourEngine
import Logging

/// flavourd's command line. Parsed by hand: the daemon stays free of ArgumentParser,
/// whose Foundation dependency would add megabytes to its resident size. Defaults come
/// from `DefaultPaths`; `DaemonSettings(_:)` turns the result into the daemon's settings.
public struct DaemonCommandLine: Equatable, Sendable {
    public var sysfsRoot = DefaultPaths.sysfsRoot
    /// nil: `/lib/modules/$(uname -r)`, resolved by `DaemonSettings`.
    public var modulesDirectory: String? = nil
    public var configDirectory = DefaultPaths.configDirectory
    public var runDirectory = DefaultPaths.runDirectory
    public var procRoot = DefaultPaths.procRoot
    public var maxInFlight = DaemonSettings.defaultMaxInFlight
    /// Seconds a sysfs write may take before the device is reported stuck; 0: never.
    public var stuckAfterSeconds: Double = 30
    /// Bytes asked for the event monitor's receive buffer.
    public var receiveBufferBytes: Int32 = 8 * 1024 * 1024
    /// nil: not given; the configuration's `metrics-dir` or the default applies.
    public var metricsDirectory: PublishDirectory? = nil
    /// nil: not given; the configuration's `node-labels-dir` or the default applies.
    public var nodeLabelsDirectory: PublishDirectory? = nil
    /// udev, kernel, or auto (udev when udevd runs).
    public var source = "auto"
    /// On the udev source, also hear the kernel's own `add`s, ahead of udevd's rules.
    public var kernelAdds = true
    public var logLevel = Logger.Level.info

    public enum Action: Equatable, Sendable {
        case run(DaemonCommandLine)
        case help
        case error(String)
    }

    public static let usage = """
        usage: flavourd [options]
        Carry out driver flavour requests on PCI devices as they arrive from udev.

          --sysfs-root DIR       root of sysfs (default \(DefaultPaths.sysfsRoot))
          --modules-dir DIR      kernel modules directory (default /lib/modules/$(uname -r))
          --config-dir DIR       directory of *.conf files (default \(DefaultPaths.configDirectory))
          --run-dir DIR          runtime state: status.json, in-flight journal (default \(DefaultPaths.runDirectory))
          --proc-root DIR        root of procfs, read by the in-use guard (default \(DefaultPaths.procRoot))
          --max-in-flight N      devices bound concurrently (default \(DaemonSettings.defaultMaxInFlight))
          --stuck-after SECONDS  report a device stuck when a sysfs write takes longer; 0: never (default 30)
          --receive-buffer BYTES the event monitor's receive buffer (default 8388608)
          --metrics-dir DIR      node_exporter's textfile directory for driver_flavour.prom; '-' for none
                                 (default: the config's metrics-dir, else \(DefaultPaths.metricsDirectory))
          --node-labels-dir DIR  node-feature-discovery's features.d for the feature file; '-' for none
                                 (default: the config's node-labels-dir, else \(DefaultPaths.nodeLabelsDirectory))
          --source SOURCE        udev, kernel, or auto: udev when udevd runs (default auto)
          --kernel-adds yes|no   on the udev source, also act on the kernel's own add of a device,
                                 without waiting for udevd's rules (default yes)
          --log-level LEVEL      trace, debug, info, notice, warning, error, critical (default info)
          -h, --help             this text
        Signals: SIGHUP reloads config and modules.alias; SIGTERM finishes binds in flight and exits.
        """

    public init() {}

    public static func parse(_ arguments: [String]) -> Action {
        var options = DaemonCommandLine()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "-h" || argument == "--help" { return .help }
            var name = argument
            var value: String? = nil
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            let known = ["--sysfs-root", "--modules-dir", "--config-dir", "--run-dir", "--proc-root", "--max-in-flight",
                         "--stuck-after", "--receive-buffer", "--source", "--log-level", "--metrics-dir", "--node-labels-dir", "--kernel-adds"]
            guard known.contains(name) else { return .error("unknown option '\(argument)'") }
            if value == nil {
                index += 1
                guard index < arguments.count else { return .error("\(name) needs a value") }
                value = arguments[index]
            }
            let text = value!
            switch name {
            case "--sysfs-root": options.sysfsRoot = text
            case "--modules-dir": options.modulesDirectory = text
            case "--config-dir": options.configDirectory = text
            case "--run-dir": options.runDirectory = text
            case "--proc-root": options.procRoot = text
            case "--max-in-flight":
                guard let number = Int(text), number >= 1 else { return .error("--max-in-flight must be a whole number, at least 1") }
                options.maxInFlight = number
            case "--stuck-after":
                guard let seconds = Double(text), seconds.isFinite, (0...86_400).contains(seconds) else {
                    return .error("--stuck-after must be a number of seconds from 0 to 86400")
                }
                options.stuckAfterSeconds = seconds
            case "--receive-buffer":
                guard let bytes = Int32(text), bytes >= 4096 else {
                    return .error("--receive-buffer must be a number of bytes from 4096 to \(Int32.max)")
                }
                options.receiveBufferBytes = bytes
            case "--metrics-dir", "--node-labels-dir":
                guard let directory = PublishDirectory(text) else {
                    return .error("\(name) must be an absolute path without '.' or '..', or '-' for none")
                }
                if name == "--metrics-dir" { options.metricsDirectory = directory } else { options.nodeLabelsDirectory = directory }
            case "--source":
                guard ["auto", "udev", "kernel"].contains(text) else { return .error("--source must be udev, kernel or auto") }
                options.source = text
            case "--kernel-adds":
                guard text == "yes" || text == "no" else { return .error("--kernel-adds must be yes or no") }
                options.kernelAdds = text == "yes"
            default:
                guard let level = Logger.Level(rawValue: text) else { return .error("unknown --log-level '\(text)'") }
                options.logLevel = level
            }
            index += 1
        }
        return .run(options)
    }
}
