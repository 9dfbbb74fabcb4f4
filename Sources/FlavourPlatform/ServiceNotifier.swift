import CSystemd
import Glibc

/// Tells the service manager about the daemon's state with libsystemd's `sd_notify`
/// (sd_notify(3)): READY=1, STATUS=..., STOPPING=1, RELOADING=1, WATCHDOG=1.
///
/// Without `$NOTIFY_SOCKET` (not started by systemd as `Type=notify`) every call is a
/// no-op that returns false.
public struct ServiceNotifier: Sendable {
    public init() {}

    /// Whether a service manager is listening (`$NOTIFY_SOCKET` is set).
    public var isEnabled: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends `states` (each `NAME=value`) as one datagram, newline-separated.
    /// - Returns: true when sent, false when there is no `$NOTIFY_SOCKET`.
    @discardableResult
    public func notify(_ states: String...) throws(ServiceNotifierError) -> Bool {
        try notify(states)
    }

    @discardableResult
    public func notify(_ states: [String]) throws(ServiceNotifierError) -> Bool {
        let message = states.joined(separator: "\n")
        let result = sd_notify(0, message)
        if result < 0 { throw ServiceNotifierError(state: message, errno: -result) }
        return result > 0
    }

    /// READY=1: start-up is complete (the monitor receives, coldplug is done).
    @discardableResult
    public func ready(status: String? = nil) throws(ServiceNotifierError) -> Bool {
        try notify(["READY=1"] + Self.statusLine(status))
    }

    /// STATUS=...: one line saying what the daemon is doing.
    @discardableResult
    public func status(_ text: String) throws(ServiceNotifierError) -> Bool {
        try notify(Self.statusLine(text))
    }

    /// STOPPING=1: shutdown has begun.
    @discardableResult
    public func stopping(status: String? = nil) throws(ServiceNotifierError) -> Bool {
        try notify(["STOPPING=1"] + Self.statusLine(status))
    }

    /// RELOADING=1 with MONOTONIC_USEC, as `Type=notify-reload` requires (systemd 253+);
    /// send `ready()` when the reload is done.
    @discardableResult
    public func reloading(status: String? = nil) throws(ServiceNotifierError) -> Bool {
        try notify(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"] + Self.statusLine(status))
    }

    /// WATCHDOG=1: the keep-alive ping `WatchdogSec=` asks for.
    @discardableResult
    public func watchdog() throws(ServiceNotifierError) -> Bool {
        try notify("WATCHDOG=1")
    }

    /// `WatchdogSec=` as the service manager passed it (`$WATCHDOG_USEC`, for this
    /// process), or nil when no watchdog is asked for. Ping at half this interval.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }

    private static func statusLine(_ text: String?) -> [String] {
        guard let text else { return [] }
        // A newline would end the STATUS= assignment and start a bogus one.
        return ["STATUS=" + text.split(whereSeparator: \.isNewline).joined(separator: " ")]
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
