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
