import ArgumentParser
import FlavourCore
import FlavourEngine

/// `flavourctl status`: is flavourd running, what it listens to, what it holds, how requests ended.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show whether flavourd runs, its event source, its requests and their outcomes.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var runtime: RunDirectoryOption

    @Flag(help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        let running: Bool
        /// Why status.json does not describe a running daemon, when there is one.
        let stale: Nullable<String>
        let pid: Nullable<Int32>
        let state: Nullable<String>
        let source: Nullable<String>
        let settled: Nullable<Bool>
        let driverFlavourModule: Bool
        let standingRequests: [String]
        let inFlight: [String]
        let stuck: [String]
        let queued: [String]
        let queuedCount: Int
        let heldForVFCreations: Int
        let creatingVFs: [String]
        let lastOutcomes: [SetCommand.OutcomeLine]
        enum CodingKeys: String, CodingKey {
            case running, stale, pid, state, source, settled, stuck, queued
            case queuedCount = "queued_count"
            case heldForVFCreations = "held_for_vf_creations", creatingVFs = "creating_vfs"
            case driverFlavourModule = "driver_flavour_module", standingRequests = "standing_requests"
            case inFlight = "in_flight", lastOutcomes = "last_outcomes"
        }
    }

    func run() throws {
        let status = DaemonStatusFile.read(runDirectory: runtime.runDir)
        let running = status?.isAlive ?? false
        let module = global.sysfs.exists("module/driver_flavour")
        let report = Report(
            running: running, stale: Nullable(running ? nil : status?.staleness), pid: Nullable(running ? status?.pid : nil),
            state: Nullable(running ? status?.state : nil), source: Nullable(running ? status?.source : nil),
            settled: Nullable(running ? status?.settled : nil), driverFlavourModule: module,
            standingRequests: status?.standingRequests ?? [], inFlight: running ? status?.inFlight ?? [] : [],
            stuck: running ? status?.stuck ?? [] : [], queued: running ? status?.queued ?? [] : [],
            queuedCount: running ? status?.queuedCount ?? status?.queued.count ?? 0 : 0,
            heldForVFCreations: running ? status?.heldForVfCreations ?? 0 : 0,
            creatingVFs: running ? status?.creatingVfs ?? [] : [],
            lastOutcomes: (status?.lastOutcomes ?? []).map { SetCommand.OutcomeLine($0, sysfs: global.sysfs) })
        if json {
            say(try JSONOutput.render(report))
            return
        }
        if running, let status {
            let settling = status.settled == false ? ", still carrying out the requests of its start" : ""
            say("flavourd:        running (pid \(status.pid)), \(status.state)\(settling), listening to \(status.source) events")
        } else if let status {
            say("flavourd:        not running; status.json is stale (\(status.staleness)): what follows is from a stopped daemon")
        } else {
            say("flavourd:        not running")
        }
        say("driver_flavour:  \(module ? "module loaded: /sys/bus/pci/devices/*/driver_flavour takes requests" : "module not loaded: requests travel as synthetic uevents")")
        say("standing requests:\(report.standingRequests.isEmpty ? " none" : "")")
        for request in report.standingRequests { say("  \(request)") }
        if !report.inFlight.isEmpty { say("in flight: \(report.inFlight.joined(separator: ", "))") }
        if !report.stuck.isEmpty {
            say("stuck:     \(report.stuck.joined(separator: ", ")) (a sysfs write for it has not returned: see journalctl -u flavourd)")
        }
        if !report.queued.isEmpty {
            let more = report.queuedCount > report.queued.count ? ", … (\(report.queuedCount) in all)" : ""
            say("queued:    \(report.queued.joined(separator: ", "))\(more)")
        }
        if report.heldForVFCreations > 0 || !report.creatingVFs.isEmpty {
            let pfs = report.creatingVFs.isEmpty ? "" : " (creating VFs: \(report.creatingVFs.joined(separator: ", ")))"
            say("held:      \(report.heldForVFCreations) bind(s) of new VFs, until the PFs finish creating VFs\(pfs)")
        }
        say("last outcomes:\(report.lastOutcomes.isEmpty ? " none" : "")")
        for outcome in report.lastOutcomes {
            say("  \(outcome.address)  \(outcome.requested)  \(outcome.result)  \(outcome.driver.value ?? "-")\(outcome.vfioMode ? "  (VFIO mode)" : "")")
        }
    }
}
