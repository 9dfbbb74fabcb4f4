import FlavourCore
import FlavourEngine

/// Where the daemon finds the kernel, its config and its runtime state.
public struct DaemonSettings: Sendable {
    public var sysfsRoot: String
    public var modulesDirectory: String
    public var configDirectory: String
    /// Holds `status.json` (read by `flavourctl status` and `set`) and the crash journal.
    public var runDirectory: RunDirectory
    /// Devices bound concurrently (one request at a time per device).
    public var maxInFlight: Int
    /// Root of procfs, read by the in-use guard (mounts, swaps, routes).
    public var procRoot: String
    /// How long a request may wait for a sysfs write before it is reported stuck (and stops
    /// counting against `maxInFlight`); nil: never.
    public var stuckAfter: Duration?
    /// Where the Prometheus metrics go (node_exporter's textfile collector) and the
    /// node-feature-discovery feature file (FleetPublisher). None unless asked for: flavourd's
    /// command line gives the defaults (`DefaultPaths`), which the configuration may replace.
    public var metricsDirectory = PublishSetting.fixed(.none)
    public var nodeLabelsDirectory = PublishSetting.fixed(.none)
    /// The clock that spaces the fleet files' writes.
    public var publishClock = PublishClock.system
    /// How long standing requests for new VFs wait for their PFs to finish creating VFs.
    public var vfCreation = VFCreationTiming()

    public static let defaultMaxInFlight = 4
    public static let defaultStuckAfter = Duration.seconds(30)

    public init(
        sysfsRoot: String = DefaultPaths.sysfsRoot, modulesDirectory: String? = nil,
        configDirectory: String = DefaultPaths.configDirectory, runDirectory: String = DefaultPaths.runDirectory,
        maxInFlight: Int = DaemonSettings.defaultMaxInFlight, procRoot: String = DefaultPaths.procRoot,
        stuckAfter: Duration? = DaemonSettings.defaultStuckAfter
    ) {
        self.sysfsRoot = sysfsRoot
        self.modulesDirectory = modulesDirectory ?? DefaultPaths.modulesDirectory()
        self.configDirectory = configDirectory
        self.runDirectory = RunDirectory(runDirectory)
        self.maxInFlight = maxInFlight
        self.procRoot = procRoot
        self.stuckAfter = stuckAfter
    }

    /// The settings flavourd's command line asks for.
    public init(_ commandLine: DaemonCommandLine) {
        self.init(
            sysfsRoot: commandLine.sysfsRoot, modulesDirectory: commandLine.modulesDirectory,
            configDirectory: commandLine.configDirectory, runDirectory: commandLine.runDirectory,
            maxInFlight: commandLine.maxInFlight, procRoot: commandLine.procRoot,
            stuckAfter: commandLine.stuckAfterSeconds > 0 ? .milliseconds(Int64(commandLine.stuckAfterSeconds * 1000)) : nil)
        metricsDirectory = commandLine.metricsDirectory.map(PublishSetting.fixed)
            ?? .standard(.path(DefaultPaths.metricsDirectory))
        nodeLabelsDirectory = commandLine.nodeLabelsDirectory.map(PublishSetting.fixed)
            ?? .standard(.path(DefaultPaths.nodeLabelsDirectory))
    }
}
