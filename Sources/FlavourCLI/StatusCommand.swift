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
        let pid: Nullable<Int32>
        let state: Nullable<String>
        let source: Nullable<String>
        let driverFlavourModule: Bool
        let standingRequests: [String]
        let inFlight: [String]
        let queued: [String]
        let queuedCount: Int
        let lastOutcomes: [SetCommand.OutcomeLine]
        enum CodingKeys: String, CodingKey {
            case running, pid, state, source, queued
            case queuedCount = "queued_count"
            case driverFlavourModule = "driver_flavour_module", standingRequests = "standing_requests"
            case inFlight = "in_flight", lastOutcomes = "last_outcomes"
        }
    }

    func run() throws {
        let status = DaemonStatusFile.read(runDirectory: runtime.runDir)
        let running = status?.isAlive ?? false
        let module = global.sysfs.exists("module/driver_flavour")
        let report = Report(
            running: running, pid: Nullable(running ? status?.pid : nil), state: Nullable(running ? status?.state : nil),
            source: Nullable(running ? status?.source : nil), driverFlavourModule: module,
            standingRequests: status?.standingRequests ?? [], inFlight: running ? status?.inFlight ?? [] : [],
            queued: running ? status?.queued ?? [] : [],
            queuedCount: running ? status?.queuedCount ?? status?.queued.count ?? 0 : 0, lastOutcomes: (status?.lastOutcomes ?? []).map { SetCommand.OutcomeLine($0, sysfs: global.sysfs) })
        if json {
            say(try JSONOutput.render(report))
            return
        }
        if running, let status {
            say("flavourd:        running (pid \(status.pid)), \(status.state), listening to \(status.source) events")
        } else {
            say("flavourd:        not running\(status == nil ? "" : " (last status below is from a stopped daemon)")")
        }
        say("driver_flavour:  \(module ? "module loaded: /sys/bus/pci/devices/*/driver_flavour takes requests" : "module not loaded: requests travel as synthetic uevents")")
        say("standing requests:\(report.standingRequests.isEmpty ? " none" : "")")
        for request in report.standingRequests { say("  \(request)") }
        if !report.inFlight.isEmpty { say("in flight: \(report.inFlight.joined(separator: ", "))") }
        if !report.queued.isEmpty {
            let more = report.queuedCount > report.queued.count ? ", … (\(report.queuedCount) in all)" : ""
            say("queued:    \(report.queued.joined(separator: ", "))\(more)")
        }
        say("last outcomes:\(report.lastOutcomes.isEmpty ? " none" : "")")
        for outcome in report.lastOutcomes {
            say("  \(outcome.address)  \(outcome.requested)  \(outcome.result)  \(outcome.driver.value ?? "-")\(outcome.vfioMode ? "  (VFIO mode)" : "")")
        }
    }
}
