import ArgumentParser
import FlavourCore
import FlavourEngine
import Logging

/// `flavourctl apply DEVICE FLAVOUR`: do it now, in this process, without the daemon.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Give a device a flavour now, in this process (`none` reverts to the default driver).",
        discussion: """
            Exits 0 when the device ends on a driver of the flavour (or back on its default driver for `none`).
            A device the host uses (a network interface with an address or route, a mounted, swap or held
            disk, the boot VGA device with the console) is refused unless --force. With --group, JSON is a
            list with one outcome per group member. Each change is recorded under --run-dir (flavourd's crash
            journal) before its first write; a flavourctl killed mid-bind is settled by the next apply or by
            flavourd, and Ctrl-C waits until the device is on a driver.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var runtime: RunDirectoryOption

    @Argument(help: ArgumentHelp("PCI address, DDDD:BB:DD.F.", valueName: "device"))
    var device: String

    @Argument(help: ArgumentHelp("A flavour name, or `none`.", valueName: "flavour"))
    var flavour: String

    @Flag(help: "Take the device even when the host uses it (a mounted disk, a NIC with a route); the override is logged.")
    var force = false

    @Flag(help: "Take every device of its IOMMU group along (bridges stay), all or nothing: none when one is in use or fails.")
    var group = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let address = try parseDevice(device)
        // Validate everything before the first write; root first, before /sys is read at all.
        let executor = try global.executor(logger: Logger(label: "flavourctl"), action: "flavourctl apply", runDirectory: runtime.runDir)
        do { _ = try global.sysfs.pciDevice(address) } catch { throw CLIError(error.description) }
        // An empty argument (an unset shell variable) is a mistake, not a revert: `none` is.
        guard !flavour.isEmpty, let requested = executor.resolve(flavour) else {
            throw CLIError("unknown flavour '\(flavour)'; known: \(executor.knownFlavours)")
        }
        let options = RequestOptions(force: force, group: group)
        if group {
            let outcomes = TerminationSignals.held { executor.handleGroup(address: address, requested: requested, options: options) }
            if json {
                say(try JSONOutput.render(outcomes.map(OutcomeReport.init)))
            } else {
                for outcome in outcomes { OutcomeReport.lines(outcome).forEach { say($0) } }
            }
            if outcomes.contains(where: { !$0.succeeded }) { throw ApplyFailed(code: 1) }
            return
        }
        let outcome = TerminationSignals.held { executor.handle(address: address, requested: requested, options: options) }
        if json {
            say(try JSONOutput.render(OutcomeReport(outcome)))
        } else {
            for line in OutcomeReport.lines(outcome) { say(line) }
        }
        if !outcome.succeeded { throw ApplyFailed(code: 1) }
    }
}
