import FlavourPlatform
import Foundation
import Glibc
import Testing

/// sd_notify against a datagram listener standing in for systemd. The notifying side
/// runs in a child process whose environment has NOTIFY_SOCKET and WATCHDOG_USEC, so
/// the test process's own environment (shared with every other test) is never changed.
@Suite struct ServiceNotifierTests {
    static let notifierRole = "notifier"

    @Test func statesArriveAsSdNotifyDatagrams() throws {
        let listener = try DatagramListener(socketName: "notify")
        let outcome = try TestChildProcess.run(
            role: Self.notifierRole,
            environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "3000000"]
        )
        try #require(outcome.status == 0, "notifier child failed (exit \(outcome.status)):\n\(outcome.output)")

        let messages = try listener.drain().map { String(decoding: $0, as: UTF8.self) }
        try #require(messages.count == 6, "got \(messages)")
        #expect(messages[0] == "STATUS=Starting: listening on kernel")
        #expect(messages[1] == "READY=1\nSTATUS=Listening for requests")
        #expect(messages[2] == "WATCHDOG=1")
        let reloading = messages[3].split(separator: "\n")
        #expect(reloading.first == "RELOADING=1")
        #expect(reloading.count == 2 && reloading[1].hasPrefix("MONOTONIC_USEC=")
            && UInt64(reloading[1].dropFirst("MONOTONIC_USEC=".count)).map { $0 > 0 } == true)
        #expect(messages[4] == "STATUS=two lines as one")
        #expect(messages[5] == "STOPPING=1\nSTATUS=Finishing 1 bind")
    }

    /// Runs in the child.
    static func runNotifier() throws {
        let notifier = ServiceNotifier()
        #expect(notifier.isEnabled)
        #expect(notifier.watchdogInterval == .seconds(3))
        #expect(try notifier.status("Starting: listening on kernel"))
        #expect(try notifier.ready(status: "Listening for requests"))
        #expect(try notifier.watchdog())
        #expect(try notifier.reloading())
        #expect(try notifier.status("two lines\nas one"))
        #expect(try notifier.stopping(status: "Finishing 1 bind"))
    }

    @Test func withoutNotifySocketEveryCallIsANoOp() throws {
        // Only meaningful when the test itself is not run by systemd as Type=notify.
        guard getenv("NOTIFY_SOCKET") == nil else { return }
        let notifier = ServiceNotifier()
        #expect(!notifier.isEnabled)
        #expect(try notifier.ready() == false)
        #expect(try notifier.notify("STATUS=nobody listens") == false)
    }

    @Test func withoutWatchdogUsecThereIsNoInterval() {
        guard getenv("WATCHDOG_USEC") == nil else { return }
        #expect(ServiceNotifier().watchdogInterval == nil)
    }
}
