import ArgumentParser
import FlavourEngine

#if canImport(Glibc)
import Glibc
#endif

/// `flavourctl settle`: waits until the requests flavourd queued at its start (standing
/// requests, requests pending in driver_flavour, requests a stopped flavourd took on) have
/// ended. flavourd-settle.service runs it, so that libvirtd and friends start after the
/// standing requests are applied while flavourd itself holds up nothing in the boot.
struct SettleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle",
        abstract: "Wait until flavourd has carried out the requests it queued at its start.",
        discussion: """
            Exits 0 once status.json says the start's requests have ended, 1 when flavourd is not
            running (status.json stale for 10 s: a restart is waited for) or the timeout passes
            first (what is still in flight is named).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var runtime: RunDirectoryOption

    @Option(help: "Seconds to wait.")
    var timeout: Double = 120

    /// How long a stale status.json is waited on for a restarted flavourd to replace it.
    static let restartGrace: UInt64 = 10_000_000_000

    func validate() throws {
        guard timeout.isFinite, (0...SetCommand.maxTimeout).contains(timeout) else {
            throw ValidationError("--timeout must be a number of seconds from 0 to \(Int(SetCommand.maxTimeout)), not \(timeout)")
        }
    }

    func run() throws {
        let deadline = DaemonStatusFile.realtimeNanoseconds() + UInt64(timeout * 1e9)
        var last: DaemonStatusFile?
        var staleSince: UInt64?
        while true {
            let now = DaemonStatusFile.realtimeNanoseconds()
            last = DaemonStatusFile.read(runDirectory: runtime.runDir)
            if let status = last, status.isAlive, status.state == "ready", status.settled ?? true {
                say("flavourd (pid \(status.pid)): the requests of its start have ended")
                return
            }
            // A writer that has exited may be a flavourd being restarted (an upgrade restarts
            // flavourd-settle.service beside it, and systemd runs a restart job of a unit ordered
            // after flavourd before flavourd's own): give a new one a few seconds to appear.
            if let status = last, !status.isAlive {
                let since = staleSince ?? now
                staleSince = since
                if now - since >= Self.restartGrace || now >= deadline {
                    throw CLIError("flavourd is not running (status.json is stale: \(status.staleness))")
                }
            } else {
                staleSince = nil
            }
            guard now < deadline else { break }
            usleep(50_000)
        }
        guard let status = last else {
            throw CLIError("flavourd wrote no \(runtime.runDir)/status.json within \(timeout) s: is it running?")
        }
        let busy = status.inFlight.isEmpty ? "" : "; in flight: \(status.inFlight.joined(separator: ", "))"
        let stuck = (status.stuck ?? []).isEmpty ? "" : "; stuck: \(status.stuck!.joined(separator: ", "))"
        throw CLIError("flavourd (pid \(status.pid)) has not finished the requests of its start within \(timeout) s (state \(status.state), \(status.queuedCount ?? status.queued.count) queued\(busy)\(stuck))")
    }
}
