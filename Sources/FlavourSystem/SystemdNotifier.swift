import FlavourEngine
import FlavourPlatform
import Logging

/// DaemonNotifier over sd_notify; failures are logged once per call, never fatal.
public struct SystemdNotifier: DaemonNotifier {
    let notifier = ServiceNotifier()
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    private func send(_ call: () throws(ServiceNotifierError) -> Bool) {
        do { _ = try call() } catch {
            logger.warning("sd_notify failed", metadata: ["reason": "\(error)"])
        }
    }

    public func ready(status: String) { send { () throws(ServiceNotifierError) in try notifier.ready(status: status) } }
    public func status(_ text: String) { send { () throws(ServiceNotifierError) in try notifier.status(text) } }
    public func reloading() { send { () throws(ServiceNotifierError) in try notifier.reloading() } }
    public func stopping(status: String) { send { () throws(ServiceNotifierError) in try notifier.stopping(status: status) } }
    public func watchdog() { send { () throws(ServiceNotifierError) in try notifier.watchdog() } }
    public var watchdogInterval: Duration? { notifier.watchdogInterval }
}
