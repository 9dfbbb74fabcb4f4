import FlavourEngine
import Synchronization

/// Keeps every sd_notify state the daemon sends.
public final class RecordingNotifier: DaemonNotifier, Sendable {
    /// With an interval, the daemon feeds a watchdog (as under WatchdogSec=).
    public init(watchdogInterval: Duration? = nil) { self.watchdogInterval = watchdogInterval }
    public let states = Mutex<[String]>([])
    public func ready(status: String) { states.withLock { $0.append("READY=1") } }
    public func status(_ text: String) { states.withLock { $0.append("STATUS=\(text)") } }
    public func reloading() { states.withLock { $0.append("RELOADING=1") } }
    public func stopping(status: String) { states.withLock { $0.append("STOPPING=1") } }
    public func watchdog() { states.withLock { $0.append("WATCHDOG=1") } }
    public let watchdogInterval: Duration?
    public var watchdogCount: Int { states.withLock { $0.count { $0 == "WATCHDOG=1" } } }
    public var isReady: Bool { states.withLock { $0.contains("READY=1") } }
}

