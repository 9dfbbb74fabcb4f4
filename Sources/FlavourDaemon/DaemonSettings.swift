import FlavourEngine

/// Where the daemon finds the kernel, its config and its runtime state.
public struct DaemonSettings: Sendable {
    public var sysfsRoot: String
    public var modulesDirectory: String
    public var configDirectory: String
    /// Holds `status.json` (read by `flavourctl status` and `set`).
    public var runDirectory: String
    /// Devices bound concurrently (one request at a time per device).
    public var maxInFlight: Int
    /// Root of procfs, read by the in-use guard (mounts, swaps, routes).
    public var procRoot = "/proc"

    public init(
        sysfsRoot: String = "/sys", modulesDirectory: String? = nil, configDirectory: String = "/etc/driver-flavour.d",
        runDirectory: String = "/run/driver-flavour", maxInFlight: Int = 4
    ) {
        self.sysfsRoot = sysfsRoot
        self.modulesDirectory = modulesDirectory ?? FileSystem.defaultModulesDirectory()
        self.configDirectory = configDirectory
        self.runDirectory = runDirectory
        self.maxInFlight = maxInFlight
    }

    public var statusPath: String { runDirectory + "/status.json" }

    /// The file `flavourctl set --persist` keeps standing requests in.
    public static let persistedFileName = "90-flavourctl-persisted.conf"
}

/// The service manager, told what the daemon is doing (sd_notify in production).
public protocol DaemonNotifier: Sendable {
    func ready(status: String)
    func status(_ text: String)
    func reloading()
    func stopping(status: String)
    func watchdog()
    /// When WatchdogSec= is set: how often to ping.
    var watchdogInterval: Duration? { get }
}
